"""Rows straight into their tables: COPY on PostgreSQL, bulk_create elsewhere."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone


class RawJson(str):
    """JSON text already serialized: one template snapshot shared by thousands of rows."""


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> list[int]:
    """Insert `rows` (values of `fields`, attnames, in that order) and return their ids in order.

    On PostgreSQL: ids drawn from the table's sequence, then one COPY (fields left out get their
    defaults, computed per row when callable). Elsewhere: bulk_create."""
    if not rows:
        return []
    meta = model._meta
    if connection.vendor != "postgresql":
        objs = [
            model(
                **{
                    f: json.loads(v) if isinstance(v, RawJson) else v
                    for f, v in zip(fields, row, strict=True)
                }
            )
            for row in rows
        ]
        return [o.pk for o in model.objects.bulk_create(objs, batch_size=2000)]
    from psycopg.copy import QueuedLibpqWriter
    from psycopg.types.json import Jsonb

    given = set(fields)
    now = timezone.now()
    missing = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in given]
    # A callable default (a token) is drawn per row; the others, and "now", once per insert.
    per_row = [
        f
        for f in missing
        if f.has_default() and callable(f.default) and f.default is not timezone.now
    ]
    once = [f for f in missing if f not in per_row]
    constant = [
        now if getattr(f, "auto_now", False) or f.default is timezone.now else f.get_default()
        for f in once
    ]
    rest = [*once, *per_row]
    per_row = [f.default for f in per_row]
    by_attname = {f.attname: f for f in meta.concrete_fields}
    json_at = [
        i
        for i, name in enumerate([*fields, *(f.attname for f in rest)])
        if isinstance(by_attname[name], models.JSONField)
    ]
    columns = ", ".join(
        connection.ops.quote_name(c)
        for c in [
            meta.pk.column,
            *(by_attname[n].column for n in fields),
            *(f.column for f in rest),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        statement = f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
        # A writer thread sends while this one formats rows: the server works meanwhile.
        with cursor.cursor.copy(statement, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = [*row, *constant, *(default() for default in per_row)]
                for i in json_at:
                    if not isinstance(values[i], RawJson):  # raw: COPY's text is the JSON
                        values[i] = Jsonb(values[i])
                copy.write_row((pk, *values))
    return ids


HISTORY_FIELDS = [
    "workspace_id",
    "booking_id",
    "from_status",
    "to_status",
    "actor_id",
    "created_at",
    "updated_at",
]
SUBMISSION_FIELDS = [
    "workspace_id",
    "template_id",
    "template_name",
    "template_version",
    "fields",
    "contact_id",
    "booking_id",
    "status",
    "source",
    "sent_at",
    "due_at",
    "completed_at",
    "overdue_at",
    "answers",
    "signed_name",
    "signed_at",
    "answers_sha256",
    "submitted_ip",
    "created_at",
    "updated_at",
]
REMINDER_FIELDS = [
    "workspace_id",
    "booking_id",
    "offset_minutes",
    "booking_start",
    "due_at",
    "created_at",
    "updated_at",
]
LEDGER_FIELDS = [
    "workspace_id",
    "item_id",
    "kind",
    "quantity",
    "change",
    "balance_after",
    "actor_id",
    "booking_id",
    "occurred_at",
    "note",
    "created_at",
    "updated_at",
]
CONVERSATION_FIELDS = [
    "workspace_id",
    "contact_id",
    "status",
    "unread_count",
    "last_message_at",
    "last_message_preview",
    "last_inbound_channel",
    "assigned_to_id",
    "automation_paused",
    "automation_paused_at",
    "created_at",
    "updated_at",
]
MESSAGE_FIELDS = [
    "workspace_id",
    "conversation_id",
    "direction",
    "channel",
    "status",
    "subject",
    "body",
    "sender_kind",
    "sender_user_id",
    "to_address",
    "from_address",
    "provider",
    "error",
    "attempts",
    "sent_at",
    "delivered_at",
    "failed_at",
    "updated_at",
    "created_at",
]
