"""Reads shared by the API and the pages."""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from careops.db import JoinedSelect
from workspaces.models import Invitation, Membership, User, Workspace


def workspaces_for_user(*, user: User) -> QuerySet[Workspace]:
    """The user's workspaces, each annotated with the user's `my_role` there."""
    role = Membership.objects.filter(workspace=OuterRef("pk"), user=user).values("role")[:1]
    return (
        Workspace.objects.filter(memberships__user=user)
        .annotate(my_role=Subquery(role))
        .order_by("name", "pk")
    )


def memberships_for_workspace(*, workspace: Workspace) -> QuerySet[Membership]:
    return (
        Membership.objects.for_workspace(workspace)
        .select_related("user")
        .order_by("created_at", "pk")
    )


def invitations_for_workspace(*, workspace: Workspace) -> QuerySet[Invitation]:
    return (
        Invitation.objects.for_workspace(workspace)
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")
    )


@functools.cache
def _membership_reads(user_field: str) -> tuple[JoinedSelect, str, str]:
    """The read and its two WHERE clauses (a named workspace; the first two), written once."""
    rows = JoinedSelect(Membership, ("user", "workspace"))
    user = rows.column(user_field, "user")
    named = f"WHERE {user} = %s AND {rows.column('workspace')} = %s LIMIT 1"
    first_two = f"WHERE {user} = %s ORDER BY {rows.column('id')} LIMIT 2"
    return rows, named, first_two


def memberships_with_user(
    *, user_field: str, user_key: Any, workspace_id: int | None
) -> list[Membership]:
    """The user's membership of that workspace (none or one), or with no workspace named their
    first two by id, each with its user and workspace joined: the API reads them with a token's
    user (careops.auth) on every request, so the SQL is written once (JoinedSelect).
    `user_field` is the user's field the token names them by (simplejwt's USER_ID_FIELD)."""
    rows, named, first_two = _membership_reads(user_field)
    if workspace_id is None:
        return rows.rows(first_two, [user_key])
    return rows.rows(named, [user_key, workspace_id])
