"""Reads shared by the API and the pages."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

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
