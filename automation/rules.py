"""A workspace's rules: created with their defaults on first read, edited by owners, and
tried without sending (dry run)."""

from __future__ import annotations

from datetime import time
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from automation.models import Rule
from careops.errors import InvalidInput

log = structlog.get_logger(__name__)

# The messages a new workspace starts with, in the template language of messaging.rendering.
DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    Rule.Kind.WELCOME: {
        "subject": "Welcome to {{ workspace.name }}",
        "body": (
            "Hi {{ contact.first_name|default:'there' }},\n\n"
            "Thanks for getting in touch with {{ workspace.name }}. We'll be in touch soon; "
            "you can reply to this message at any time.\n\n{{ workspace.name }}"
        ),
        "sms_body": "Hi {{ contact.first_name|default:'there' }}, thanks for contacting "
        "{{ workspace.name }}. Reply here any time.",
    },
    Rule.Kind.BOOKING_CONFIRMATION: {
        "subject": "Booked: {{ booking.service }} on {{ booking.date }}",
        "body": (
            "Hi {{ contact.first_name|default:'there' }},\n\n"
            "Your {{ booking.service }} is booked for {{ booking.start_local }}"
            "{% if booking.location %} at {{ booking.location }}{% endif %}.\n\n"
            "The calendar file is attached. To reschedule or cancel: {{ link }}\n\n"
            "{{ workspace.name }}"
        ),
        "sms_body": "{{ workspace.name }}: your {{ booking.service }} is booked for "
        "{{ booking.start_local }}. Manage it: {{ link }}",
    },
    Rule.Kind.BOOKING_REMINDER: {
        "subject": "Reminder: {{ booking.service }} on {{ booking.date }}",
        "body": (
            "Hi {{ contact.first_name|default:'there' }},\n\n"
            "A reminder of your {{ booking.service }} on {{ booking.start_local }}"
            "{% if booking.location %} at {{ booking.location }}{% endif %}.\n\n"
            "Need to change it? {{ link }}\n\n{{ workspace.name }}"
        ),
        "sms_body": "Reminder from {{ workspace.name }}: {{ booking.service }} on "
        "{{ booking.start_local }}. Change it: {{ link }}",
    },
}


def rules_for(workspace) -> dict[str, Rule]:
    """Every rule of the workspace by kind, creating the missing ones with their defaults
    (concurrent first reads create each once: the unique constraint and ignore_conflicts)."""
    rules = {r.kind: r for r in Rule.objects.for_workspace(workspace)}
    missing = [kind for kind in Rule.Kind.values if kind not in rules]
    if missing:
        Rule.objects.bulk_create(
            [
                Rule(
                    workspace_id=getattr(workspace, "pk", workspace),
                    kind=kind,
                    **DEFAULT_MESSAGES.get(kind, {}),
                )
                for kind in missing
            ],
            ignore_conflicts=True,
        )
        rules = {r.kind: r for r in Rule.objects.for_workspace(workspace)}
    return rules


# What an owner may change on a rule, and which rules each setting means something for (a
# setting sent unchanged for a rule it does not apply to is ignored: forms send every field).
MESSAGE_RULES = (Rule.Kind.WELCOME, Rule.Kind.BOOKING_CONFIRMATION, Rule.Kind.BOOKING_REMINDER)
APPLIES_TO: dict[str, tuple[str, ...] | None] = {
    "is_enabled": None,  # every rule
    "subject": MESSAGE_RULES,
    "body": MESSAGE_RULES,
    "sms_body": MESSAGE_RULES,
    "offset_minutes": (Rule.Kind.BOOKING_REMINDER,),
    "quiet_start": (Rule.Kind.BOOKING_REMINDER,),
    "quiet_end": (Rule.Kind.BOOKING_REMINDER,),
    "email_owners": (Rule.Kind.STOCK_LOW,),
}
OFFSET_MIN = 5
OFFSET_MAX = 60 * 24 * 30  # mirrors automation_rule_offset_valid
SUBJECT_MAX_LENGTH = 255
NEEDS_BOOKING = (
    Rule.Kind.BOOKING_CONFIRMATION,
    Rule.Kind.BOOKING_FORMS,
    Rule.Kind.BOOKING_REMINDER,
)
SWITCHED_OFF = "This rule is switched off."


def _as_bool(name: str, value: Any, errors: dict[str, list[str]]) -> bool | None:
    if isinstance(value, bool):
        return value
    errors[name] = ["Use true or false."]
    return None


def _as_text(name: str, value: Any, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    errors[name] = ["Use text."]
    return None


def _as_offset(value: Any, errors: dict[str, list[str]]) -> int | None:
    message = f"Choose between {OFFSET_MIN} minutes and {OFFSET_MAX // (60 * 24)} days."
    try:
        if isinstance(value, bool | float):
            raise TypeError
        minutes = int(value)
    except (TypeError, ValueError):
        errors["offset_minutes"] = ["Use a whole number of minutes. " + message]
        return None
    if not OFFSET_MIN <= minutes <= OFFSET_MAX:
        errors["offset_minutes"] = [message]
        return None
    return minutes


def _as_time(name: str, value: Any, errors: dict[str, list[str]]) -> time | None:
    if value is None or value == "":
        return None
    if isinstance(value, time):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip()).replace(tzinfo=None, microsecond=0)
        except ValueError:
            pass
    errors[name] = ["Use a time of day such as 21:00, or leave it empty."]
    return None


def _template_errors(source: str) -> list[str]:
    from messaging.rendering import template_validate

    try:
        template_validate("", source)
    except InvalidInput as exc:
        return [m for messages in exc.fields.values() for m in messages]
    return []


def _clean_changes(rule: Rule, changes: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in APPLIES_TO:
            errors[name] = ["This setting cannot be changed."]
            continue
        if name in ("is_enabled", "email_owners"):
            value = _as_bool(name, value, errors)
        elif name in ("subject", "body", "sms_body"):
            value = _as_text(name, value, errors)
        elif name == "offset_minutes":
            value = _as_offset(value, errors)
        else:
            value = _as_time(name, value, errors)
        if name in errors or value == getattr(rule, name):
            continue
        kinds = APPLIES_TO[name]
        if kinds is not None and rule.kind not in kinds:
            errors[name] = [f"This setting does not apply to “{rule.get_kind_display()}”."]
            continue
        cleaned[name] = value
    for name in ("subject", "body", "sms_body"):
        if name not in cleaned:
            continue
        text = cleaned[name]
        if name == "subject" and len(text) > SUBJECT_MAX_LENGTH:
            errors[name] = [f"Keep the subject under {SUBJECT_MAX_LENGTH} characters."]
        elif name != "subject" and not text:
            errors[name] = [
                "Write the email's text." if name == "body" else "Write the text message."
            ]
        elif problems := _template_errors(text):
            errors[name] = problems
    quiet_start = cleaned.get("quiet_start", rule.quiet_start)
    quiet_end = cleaned.get("quiet_end", rule.quiet_end)
    if "quiet_start" not in errors and "quiet_end" not in errors:
        if (quiet_start is None) != (quiet_end is None):
            missing = "quiet_start" if quiet_start is None else "quiet_end"
            errors[missing] = ["Set both ends of the quiet hours, or neither."]
        elif quiet_start is not None and quiet_start == quiet_end:
            errors["quiet_end"] = ["The quiet hours must end at another time than they start."]
    if errors:
        raise InvalidInput(fields=errors)
    return cleaned


def rule_update(*, rule: Rule, actor, **changes: Any) -> Rule:
    """Owners change is_enabled, subject, body, sms_body, offset_minutes, quiet_start,
    quiet_end, email_owners. The message texts are checked with messaging.rendering's
    template_validate (InvalidInput naming the field); offset 5 min..30 days; quiet hours both
    set or both empty. Changing the reminder offset re-plans the planned reminders.

    Changing when reminders go (the offset, the quiet hours) re-plans the upcoming bookings'
    reminders; switching the reminder rule on plans them for the upcoming bookings made while
    it was off."""
    cleaned = _clean_changes(rule, changes)
    if not cleaned:
        return rule
    was_enabled = rule.is_enabled
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(rule, name, value)
        rule.save(update_fields=[*cleaned, "updated_at"])
        replanned = 0
        if rule.kind == Rule.Kind.BOOKING_REMINDER and rule.is_enabled:
            timing = {"offset_minutes", "quiet_start", "quiet_end"} & set(cleaned)
            if timing or not was_enabled:
                replanned = _reminders_replan(rule, all_upcoming=not was_enabled)
    log.info(
        "rule_updated",
        rule_id=rule.pk,
        kind=rule.kind,
        fields=sorted(cleaned),
        replanned=replanned,
        actor=getattr(actor, "pk", None),
    )
    return rule


def _reminders_replan(rule: Rule, *, all_upcoming: bool) -> int:
    """Plan the reminders of the workspace's upcoming active bookings again: those with a
    reminder not yet sent, or (all_upcoming) every one."""
    from automation.models import Reminder
    from automation.reminders import reminder_plan
    from bookings.models import ACTIVE_STATUSES, Booking

    now = timezone.now()
    bookings = Booking.objects.for_workspace(rule.workspace_id).filter(
        status__in=ACTIVE_STATUSES, start__gt=now
    )
    if not all_upcoming:
        bookings = bookings.filter(
            reminders__status__in=[Reminder.Status.PLANNED, Reminder.Status.SKIPPED]
        ).distinct()
    count = 0
    for booking in bookings.select_related("workspace").order_by("start").iterator():
        reminder_plan(booking, rule, now=now)
        count += 1
    return count


# --- Dry run -----------------------------------------------------------------------------------


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
    if rule.kind in MESSAGE_RULES:
        result = _dry_message(rule, contact, booking)
    elif rule.kind == Rule.Kind.BOOKING_FORMS:
        result = _dry_forms(rule, booking)
    else:
        result = _dry("act", _ACTS[rule.kind](rule))
    if not rule.is_enabled:
        result.update(would="skip", reason=SWITCHED_OFF)
    return result


_ACTS = {
    Rule.Kind.PAUSE_ON_REPLY: lambda rule: (
        "A staff member's reply would pause automation for the conversation until a staff "
        "member resumes it."
    ),
    Rule.Kind.FORM_OVERDUE: lambda rule: (
        "A form still pending after its due time would be marked overdue, and staff alerted."
    ),
    Rule.Kind.STOCK_LOW: lambda rule: (
        "An item below its threshold would raise an alert for staff"
        + (" and email the owners." if rule.email_owners else ".")
    ),
}


def _dry_message(rule: Rule, contact, booking) -> dict[str, Any]:
    from automation.handlers.messages import ics_attachment
    from automation.messages import Skip, booking_context, local_text, message_draft
    from automation.models import Reminder
    from bookings.ics import manage_url

    context: dict[str, Any] = {}
    attachments: list[dict] = []
    extra: dict[str, Any] = {}
    skip = ""
    if booking is not None:
        if not booking.is_active:
            skip = f"The booking is {booking.get_status_display().lower()}."
        context = {"booking": booking_context(booking), "link": manage_url(booking)}
        if rule.kind == Rule.Kind.BOOKING_CONFIRMATION:
            attachments = [ics_attachment(booking)]
    if rule.kind == Rule.Kind.BOOKING_REMINDER and not skip:
        from automation.reminders import reminder_due

        due, skip = reminder_due(booking, rule)
        extra = {"when": local_text(due, booking.workspace), "due_at": due.isoformat()}
        already_sent = (
            Reminder.objects.for_workspace(rule.workspace_id)
            .filter(
                booking=booking,
                offset_minutes=rule.offset_minutes,
                booking_start=booking.start,
                status=Reminder.Status.SENT,
            )
            .exists()
        )
        if already_sent:
            skip = "The reminder for this start was already sent."
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
    from automation.handlers.messages import booking_form_templates
    from automation.messages import NO_CHANNEL_REASON, paused_reason
    from forms.models import FormSubmission
    from messaging.models import Conversation
    from messaging.services import NoChannel, choose_channel

    if not booking.is_active:
        return _dry("skip", f"The booking is {booking.get_status_display().lower()}.")
    templates = list(booking_form_templates(booking))
    if not templates:
        return _dry("skip", f"No forms are linked to {booking.booking_type.name}.")
    already = set(
        FormSubmission.objects.for_workspace(rule.workspace_id)
        .filter(booking=booking, template__in=templates)
        .values_list("template_id", flat=True)
    )
    to_send = [t.name for t in templates if t.pk not in already and t.fields]
    if not to_send:
        return _dry("skip", "Its forms were already sent.", forms=[])
    reason = paused_reason(booking.workspace_id, booking.contact)
    if reason:
        return _dry("skip", reason, forms=to_send)
    contact = booking.contact
    conversation = (
        Conversation.objects.for_workspace(rule.workspace_id).filter(contact=contact).first()
    )
    try:
        channel = choose_channel(contact, conversation, None)
    except NoChannel:
        return _dry("skip", NO_CHANNEL_REASON, forms=to_send)
    return _dry(
        "send",
        "Would send " + ", ".join(to_send) + ".",
        channel=channel,
        to=contact.email if channel == "email" else contact.phone,
        forms=to_send,
    )
