"""Trying a rule on a contact or a booking without doing anything: what it would send, to whom,
or why not. Each rule's decision is the one its handler makes (the same functions), so the dry
run cannot say "send" where the rule would skip."""

from __future__ import annotations

from typing import Any

from automation.engine import SWITCHED_OFF
from automation.models import Reminder, Rule
from automation.rules import MESSAGE_RULES
from careops.errors import InvalidInput

NEEDS_BOOKING = (
    Rule.Kind.BOOKING_CONFIRMATION,
    Rule.Kind.BOOKING_FORMS,
    Rule.Kind.BOOKING_REMINDER,
)


def _dry(would: str, reason: str = "", **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "would": would,
        "reason": reason,
        "channel": "",
        "to": "",
        "subject": "",
        "body": "",
        "attachments": [],
    }
    result.update(fields)
    return result


def _subject_of(rule: Rule, contact, booking):
    """The contact and booking a dry run is about, checked against the rule's workspace."""
    errors: dict[str, list[str]] = {}
    if booking is not None and booking.workspace_id != rule.workspace_id:
        errors["booking_id"] = ["Choose a booking of this workspace."]
    if contact is not None and contact.workspace_id != rule.workspace_id:
        errors["contact_id"] = ["Choose a contact of this workspace."]
    if (
        not errors
        and booking is not None
        and contact is not None
        and booking.contact_id != contact.pk
    ):
        errors["booking_id"] = ["Choose a booking of this contact."]
    if rule.kind in NEEDS_BOOKING and booking is None:
        errors["booking_id"] = ["Choose a booking to try this rule on."]
    if rule.kind == Rule.Kind.WELCOME and contact is None and booking is None:
        errors["contact_id"] = ["Choose a contact to try this rule on."]
    if errors:
        raise InvalidInput(fields=errors)
    if booking is not None:
        contact = booking.contact
    return contact, booking


def rule_dry_run(*, rule: Rule, contact=None, booking=None) -> dict[str, Any]:
    """What the rule would do now for this contact or booking, without doing it:
    {"would": "send"|"skip"|"act", "reason", "channel", "to", "subject", "body",
    "attachments": [filename, ...]}. InvalidInput when the rule needs a booking and none is
    given (or a contact).

    The reminder rule adds "when" (local text) and "due_at"; the forms rule adds "forms" (the
    names it would send). A switched-off rule would "skip", and still shows its message."""
    contact, booking = _subject_of(rule, contact, booking)
    if rule.kind in _ACTS:
        result = _dry("act", _ACTS[rule.kind](rule))
    elif rule.kind in MESSAGE_RULES:
        result = _dry_message(rule, contact, booking)
    elif rule.kind == Rule.Kind.BOOKING_FORMS:
        result = _dry_forms(rule, booking)
    else:
        result = _dry("act", "")
    if not rule.is_enabled:
        result.update(would="skip", reason=SWITCHED_OFF)
    return result


def _owners_reach(rule: Rule) -> str:
    """How the stock rule's alerts also reach the owners: ", and email the owners and ..."."""
    reach = [
        text
        for on, text in (
            (rule.email_owners, "email the owners"),
            (rule.inbox_owners, "post to the owners' inbox"),
        )
        if on
    ]
    return f", and {' and '.join(reach)}" if reach else ""


_ACTS = {
    Rule.Kind.PAUSE_ON_REPLY: lambda rule: (
        "A staff member's reply would pause automation for the conversation until a staff "
        "member resumes it."
    ),
    Rule.Kind.FORM_OVERDUE: lambda rule: (
        "A form still pending after its due time would be marked overdue, and staff alerted."
    ),
    Rule.Kind.FORM_REMINDER: lambda rule: (
        "A form its client has not filled in would be reminded, with its link, at the "
        "rule's times (the sweep sends each reminder once)."
    ),
    Rule.Kind.STOCK_LOW: lambda rule: (
        "An item below its threshold would raise an alert for staff, a critical one when it is "
        "out or short for the next day's bookings" + _owners_reach(rule) + "."
    ),
    Rule.Kind.MISSED_MESSAGE: lambda rule: (
        f"A client's message waiting {rule.offset_minutes} minutes of working time for a staff "
        "reply would raise an alert for staff."
    ),
    Rule.Kind.BOOKING_UNCONFIRMED: lambda rule: (
        f"A booking still pending {rule.offset_minutes} minutes before its start would raise an "
        "alert for staff."
    ),
    Rule.Kind.INTEGRATION_FAILURE: lambda rule: (
        "A provider failing to send would raise an alert for the owners."
    ),
}

ALREADY_SENT = "The reminder for this start was already sent."


def _reminder_done(rule: Rule, booking) -> str:
    """The sweep's own check (automation.reminders.reminder_previous_run): why this start's
    reminder will not go out again, or ""."""
    from automation.reminders import reminder_previous_run

    reminder = (
        Reminder.objects.for_workspace(rule.workspace_id)
        .filter(booking=booking, offset_minutes=rule.offset_minutes)
        .first()
    )
    if reminder is None:
        return ""
    run = reminder_previous_run(reminder.pk, booking.start)
    if run is None:
        return ""
    return ALREADY_SENT if run.outcome == run.Outcome.SENT else run.reason


def _dry_message(rule: Rule, contact, booking) -> dict[str, Any]:
    from automation.handlers.messages import ics_attachment, inactive_reason
    from automation.messages import LOCAL_FORMAT, Skip, booking_context, message_draft
    from bookings.ics import manage_url

    context: dict[str, Any] = {}
    attachments: list[dict] = []
    extra: dict[str, Any] = {}
    skip = ""
    if booking is not None:
        if not booking.is_active:
            skip = inactive_reason(booking)
        context = {"booking": booking_context(booking), "link": manage_url(booking)}
        if rule.kind == Rule.Kind.BOOKING_CONFIRMATION:
            attachments = [ics_attachment(booking)]
    if rule.kind == Rule.Kind.BOOKING_REMINDER and not skip:
        from automation.reminders import reminder_due

        due, skip = reminder_due(booking, rule)
        extra = {"when": booking.workspace.local_text(due, LOCAL_FORMAT), "due_at": due.isoformat()}
        skip = skip or _reminder_done(rule, booking)
    try:
        draft = message_draft(rule=rule, contact=contact, context=context, attachments=attachments)
    except Skip as exc:
        return _dry("skip", skip or exc.reason, **extra)
    fields = {
        "channel": draft.channel,
        "to": draft.to,
        "subject": draft.subject,
        "body": draft.body,
        "attachments": draft.attachment_names,
        **extra,
    }
    if skip:
        return _dry("skip", skip, **fields)
    reason = f"Would send by {draft.channel} to {draft.to}"
    if "when" in extra:
        reason += f" at {extra['when']}"
    return _dry("send", reason + ".", **fields)


def _dry_forms(rule: Rule, booking) -> dict[str, Any]:
    from automation.handlers.messages import booking_forms_to_send
    from automation.messages import NO_CHANNEL_REASON, paused_reason
    from messaging.models import Conversation
    from messaging.services import NoChannel, choose_channel

    templates, skip = booking_forms_to_send(booking)
    names = [t.name for t in templates]
    if skip:
        return _dry("skip", skip, forms=names)
    reason = paused_reason(booking.workspace_id, booking.contact)
    if reason:
        return _dry("skip", reason, forms=names)
    contact = booking.contact
    conversation = (
        Conversation.objects.for_workspace(rule.workspace_id).filter(contact=contact).first()
    )
    try:
        channel = choose_channel(contact, conversation, None)
    except NoChannel:
        return _dry("skip", NO_CHANNEL_REASON, forms=names)
    return _dry(
        "send",
        "Would send " + ", ".join(names) + ".",
        channel=channel,
        to=contact.email if channel == "email" else contact.phone,
        forms=names,
    )
