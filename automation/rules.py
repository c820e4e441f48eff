"""A workspace's rules: created with their defaults on first read, and edited by owners (the
dry run, trying one without sending, is automation.dry_run)."""

from __future__ import annotations

import re
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
    Rule.Kind.FORM_REMINDER: {
        "subject": "Reminder: please fill in {{ form.name }}",
        "body": (
            "Hi {{ contact.first_name|default:'there' }},\n\n"
            "{{ workspace.name }} is still waiting for your {{ form.name }}"
            "{% if booking %}, for your {{ booking.service }} on {{ booking.start_local }}"
            "{% endif %}. Please fill it in before {{ form.due_local }}:\n\n{{ link }}\n\n"
            "The link is personal to you: please do not share it.\n\n{{ workspace.name }}"
        ),
        "sms_body": "{{ workspace.name }}: a reminder to fill in {{ form.name }}: {{ link }}",
    },
}


# The settings a rule starts with where they differ from the model's defaults.
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    # Minutes of working time a client's message may wait for a staff reply.
    Rule.Kind.MISSED_MESSAGE: {"offset_minutes": 60},
    # How long before its start a booking still pending is alerted on.
    Rule.Kind.BOOKING_UNCONFIRMED: {"offset_minutes": 24 * 60},
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
                    **DEFAULT_SETTINGS.get(kind, {}),
                )
                for kind in missing
            ],
            ignore_conflicts=True,
        )
        rules = {r.kind: r for r in Rule.objects.for_workspace(workspace)}
    return rules


# What an owner may change on a rule, and which rules each setting means something for (a
# setting sent unchanged for a rule it does not apply to is ignored: forms send every field).
MESSAGE_RULES = (
    Rule.Kind.WELCOME,
    Rule.Kind.BOOKING_CONFIRMATION,
    Rule.Kind.BOOKING_REMINDER,
    Rule.Kind.FORM_REMINDER,
)
APPLIES_TO: dict[str, tuple[str, ...] | None] = {
    "is_enabled": None,  # every rule
    "subject": MESSAGE_RULES,
    "body": MESSAGE_RULES,
    "sms_body": MESSAGE_RULES,
    "offset_minutes": (
        Rule.Kind.BOOKING_REMINDER,
        Rule.Kind.MISSED_MESSAGE,
        Rule.Kind.BOOKING_UNCONFIRMED,
    ),
    "quiet_start": (Rule.Kind.BOOKING_REMINDER, Rule.Kind.FORM_REMINDER),
    "quiet_end": (Rule.Kind.BOOKING_REMINDER, Rule.Kind.FORM_REMINDER),
    "email_owners": (Rule.Kind.STOCK_LOW,),
    "inbox_owners": (Rule.Kind.STOCK_LOW,),
    "after_sent_minutes": (Rule.Kind.FORM_REMINDER,),
    "before_booking_minutes": (Rule.Kind.FORM_REMINDER,),
}
OFFSET_MIN = 5
OFFSET_MAX = 60 * 24 * 30  # mirrors automation_rule_offset_valid
# Mirror automation_rule_after_sent_valid and automation_rule_before_booking_valid.
FORM_REMINDER_MIN = 60
FORM_REMINDER_MAX = 60 * 24 * 30
FORM_REMINDER_POINTS = ("after_sent_minutes", "before_booking_minutes")
SUBJECT_MAX_LENGTH = 255
# A form reminder without its link is no use to the client.
LINK = re.compile(r"\{\{\s*link\s*[|}]")


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


def _as_point(name: str, value: Any, errors: dict[str, list[str]]) -> int | None:
    """A form reminder's point in minutes, or None (empty: that reminder is off)."""
    if value is None or value == "":
        return None
    message = f"Choose between 1 hour and {FORM_REMINDER_MAX // (60 * 24)} days, or leave it empty."
    try:
        if isinstance(value, bool | float):
            raise TypeError
        minutes = int(value)
    except (TypeError, ValueError):
        errors[name] = ["Use a whole number of minutes. " + message]
        return None
    if not FORM_REMINDER_MIN <= minutes <= FORM_REMINDER_MAX:
        errors[name] = [message]
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
        if name in ("is_enabled", "email_owners", "inbox_owners"):
            value = _as_bool(name, value, errors)
        elif name in ("subject", "body", "sms_body"):
            value = _as_text(name, value, errors)
        elif name == "offset_minutes":
            value = _as_offset(value, errors)
        elif name in FORM_REMINDER_POINTS:
            value = _as_point(name, value, errors)
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
        elif rule.kind == Rule.Kind.FORM_REMINDER and name != "subject" and not LINK.search(text):
            errors[name] = ["Keep {{ link }} in the message: the client needs it to open the form."]
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
    quiet_end, email_owners, inbox_owners, and the form reminder's after_sent_minutes and
    before_booking_minutes. The message texts are checked with messaging.rendering's
    template_validate (InvalidInput naming the field), and a form reminder's must keep its
    {{ link }}; offset 5 min..30 days; the form reminder's points 1 hour..30 days or None (that
    reminder is off); quiet hours both set or both empty.

    Changing when reminders go (the offset, the quiet hours) re-plans the upcoming bookings'
    reminders; switching the reminder rule on plans them for the upcoming bookings made while
    it was off. The request only saves the rule with the re-plan requested on it; a task queued
    on commit does the work, or the reminders sweep when that task is lost."""
    cleaned = _clean_changes(rule, changes)
    if not cleaned:
        return rule
    was_enabled = rule.is_enabled
    replan = (
        rule.kind == Rule.Kind.BOOKING_REMINDER
        and cleaned.get("is_enabled", rule.is_enabled)
        and (bool({"offset_minutes", "quiet_start", "quiet_end"} & set(cleaned)) or not was_enabled)
    )
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(rule, name, value)
        fields = [*cleaned, "updated_at"]
        if replan:
            from automation.tasks import automation_replan_reminders
            from careops.queue import enqueue_on_commit

            rule.replan_requested_at = timezone.now()
            rule.replan_all_upcoming = rule.replan_all_upcoming or not was_enabled
            fields += ["replan_requested_at", "replan_all_upcoming"]
            enqueue_on_commit(automation_replan_reminders, rule.pk)
        rule.save(update_fields=fields)
    log.info(
        "rule_updated",
        rule_id=rule.pk,
        kind=rule.kind,
        fields=sorted(cleaned),
        replan=replan,
        actor=getattr(actor, "pk", None),
    )
    return rule
