"""Reads of the inbox shared by the API and the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from careops.errors import InvalidInput
from messaging.models import Conversation, InboxNotice, Integration, Message, MessageTemplate
from workspaces.models import User

ASSIGNED_CHOICES_HELP = 'Use "me", "none" or a member\'s user id.'


def _failed_outbound() -> Exists:
    return Exists(
        Message.objects.filter(
            conversation=OuterRef("pk"),
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.FAILED,
        )
    )


# Last activity, with conversations that have no message yet after all the others: the same
# order as `last_message_at DESC NULLS LAST`, but never NULL, so that a page of the inbox
# starts where the last one ended with a plain range on the indexes messaging_conversation_inbox
# and _unread, whose expression this must stay identical to (tests/test_list_indexes.py).
NO_ACTIVITY = datetime(1, 1, 1, tzinfo=UTC)
INBOX_ORDER = (Coalesce("last_message_at", Value(NO_ACTIVITY)).desc(), F("pk").desc())


def conversations_for_workspace(
    *, workspace, rows: bool = False
) -> QuerySet[Conversation] | QuerySet[dict]:
    """The workspace's conversations with the contact and assignee joined and `has_failed`
    annotated (any failed outbound message), by last activity: one query for a page. rows=True:
    as rows of LISTED_COLUMNS and has_failed (the API's inbox), not conversations."""
    if rows:
        return _listed_rows().for_workspace(workspace)
    return (
        Conversation.objects.for_workspace(workspace)
        .select_related("contact", "assigned_to")
        .annotate(has_failed=_failed_outbound())
        .order_by(*INBOX_ORDER)
    )


# What the API's inbox shows of a conversation and its joined rows
# (messaging.api.conversations.ConversationSerializer): the other columns, the assignee's
# password hash among them, stay in the database.
LISTED_COLUMNS = (
    "id",
    "status",
    "unread_count",
    "last_message_at",
    "last_message_preview",
    "last_inbound_channel",
    "automation_paused",
    "automation_paused_at",
    "created_at",
    "contact__id",
    "contact__name",
    "contact__email",
    "contact__phone",
    "assigned_to__id",
    "assigned_to__name",
    "assigned_to__email",
)


@cache
def _listed_rows() -> QuerySet[dict]:
    """All conversations as the inbox's rows (`.values()`), by last activity: a page renders
    from them without building three model instances per row. Built once per process and only
    ever chained from (filtered, never evaluated itself): the annotation, the 16 columns' joins
    and the order cost 3 million instructions a request, a fifth of a page of the API's inbox."""
    return (
        Conversation.objects.annotate(has_failed=_failed_outbound())
        .values(*LISTED_COLUMNS, "has_failed")
        .order_by(*INBOX_ORDER)
    )


def conversations_list(
    *,
    workspace,
    user=None,
    unread: bool | None = None,
    assigned: str | int | None = None,
    status: str = "",
    q: str = "",
    rows: bool = False,
) -> QuerySet[Conversation] | QuerySet[dict]:
    """The inbox: filtered by unread, assignee ("me", "none" or a user id), status, and a search
    of the contact's name, email or phone. rows=True: as the API's rows (see above)."""
    conversations = conversations_for_workspace(workspace=workspace, rows=rows)
    if unread is True:
        conversations = conversations.filter(unread_count__gt=0)
    elif unread is False:
        conversations = conversations.filter(unread_count=0)
    if assigned not in (None, ""):
        if assigned == "me":
            conversations = conversations.filter(assigned_to=user)
        elif assigned == "none":
            conversations = conversations.filter(assigned_to__isnull=True)
        else:
            try:
                conversations = conversations.filter(assigned_to_id=int(assigned))
            except (TypeError, ValueError):
                raise InvalidInput(fields={"assigned": [ASSIGNED_CHOICES_HELP]}) from None
    if status:
        if status not in Conversation.Status.values:
            raise InvalidInput(fields={"status": ["Use open or closed."]})
        conversations = conversations.filter(status=status)
    q = (q or "").strip()
    if q:
        match = Q(contact__name__icontains=q) | Q(contact__email__icontains=q)
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 3:
            match |= Q(contact__phone__contains=digits)
        conversations = conversations.filter(match)
    return conversations


def conversation_get(*, workspace, pk) -> Conversation:
    """One conversation of the workspace (annotated like the list), or 404."""
    conversation = get_object_or_404(conversations_for_workspace(workspace=workspace), pk=pk)
    conversation.workspace = workspace  # spares message_send a query for it
    return conversation


def conversation_messages(*, conversation: Conversation, after: int | None = None):
    """The thread, oldest first, the staff sender joined; `after` keeps only newer messages
    (message ids grow with time), which is what the inbox's polling asks for."""
    messages = (
        Message.objects.for_workspace(conversation.workspace_id)
        .filter(conversation=conversation)
        .select_related("sender_user")
        .order_by("created_at", "pk")
    )
    if after is not None:
        messages = messages.filter(pk__gt=after)
    return messages


def conversation_latest_messages(*, conversation: Conversation, limit: int) -> list[Message]:
    """The last `limit` messages of the thread, oldest first (one query)."""
    latest = list(
        Message.objects.for_workspace(conversation.workspace_id)
        .filter(conversation=conversation)
        .select_related("sender_user")
        .order_by("-created_at", "-pk")[:limit]
    )
    latest.reverse()
    return latest


def message_get(*, conversation: Conversation, pk) -> Message:
    return get_object_or_404(
        Message.objects.for_workspace(conversation.workspace_id)
        .filter(conversation=conversation)
        .select_related("sender_user"),
        pk=pk,
    )


def workspace_members(*, workspace) -> QuerySet[User]:
    """The people a conversation may be assigned to."""
    return User.objects.filter(memberships__workspace=workspace).order_by("name", "email")


def templates_for_workspace(*, workspace) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.for_workspace(workspace).order_by("name")


def integrations_for_workspace(*, workspace) -> QuerySet[Integration]:
    """The workspace's provider accounts, per channel in the order they are tried."""
    return Integration.objects.for_workspace(workspace).order_by("channel", "priority", "pk")


def notices_open(*, workspace) -> QuerySet[InboxNotice]:
    """The owners' open notices, newest first (index messaging_inboxnotice_open)."""
    return (
        InboxNotice.objects.for_workspace(workspace)
        .filter(closed_at__isnull=True)
        .order_by("-created_at", "-pk")
    )


def notice_get(*, workspace, pk) -> InboxNotice:
    """One notice of the workspace, or 404."""
    return get_object_or_404(InboxNotice.objects.for_workspace(workspace), pk=pk)
