"""The export's spreadsheets: what a person opens rather than a program reads. Every cell goes
through contacts.csv_export.csv_cell, so one that a spreadsheet would run as a formula is shown
as text instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from bookings.models import Booking
from contacts.csv_export import csv_cell
from workspaces.models import Membership

CHUNK = 2_000


def bookings_csv_rows(workspace) -> Iterator[list[str]]:
    """The header, then each booking: times on the workspace's clock, names spelled out."""
    zone = workspace.zone
    yield [
        "id",
        f"start ({workspace.timezone})",
        f"end ({workspace.timezone})",
        "status",
        "service",
        "contact_id",
        "contact_name",
        "contact_email",
        "contact_phone",
        "staff_email",
        "source",
        "notes",
        "created_at",
    ]
    # Only the columns shown, as tuples: whole rows of three joined models cost more to read
    # than everything else in the export.
    bookings = (
        Booking.objects.for_workspace(workspace)
        .order_by("start", "pk")
        .values_list(
            "pk",
            "start",
            "end",
            "status",
            "booking_type__name",
            "contact_id",
            "contact__name",
            "contact__email",
            "contact__phone",
            "staff__email",
            "source",
            "notes",
            "created_at",
        )
    )
    for pk, start, end, *middle, created_at in bookings.iterator(chunk_size=CHUNK):
        row = [
            pk,
            timezone.localtime(start, zone).strftime("%Y-%m-%d %H:%M"),
            timezone.localtime(end, zone).strftime("%Y-%m-%d %H:%M"),
            *middle,
            created_at.isoformat(),
        ]
        yield [csv_cell(value) for value in row]


MEMBER_COLUMNS = ["user_id", "email", "name", "role", "member_since"]


def members(workspace) -> Iterator[dict[str, Any]]:
    """Who works in the workspace: the user's email and name with their role. Nothing else
    of the account (never the password hash)."""
    memberships = Membership.objects.for_workspace(workspace).select_related("user").order_by("pk")
    for membership in memberships.iterator(chunk_size=CHUNK):
        yield {
            "user_id": membership.user_id,
            "email": membership.user.email,
            "name": membership.user.name,
            "role": membership.role,
            "member_since": membership.created_at.isoformat(),
        }


def members_csv_rows(workspace) -> Iterator[list[str]]:
    yield MEMBER_COLUMNS
    for member in members(workspace):
        yield [csv_cell(member[column]) for column in MEMBER_COLUMNS]
