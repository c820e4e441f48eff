"""A workspace's rules: created with their defaults on first read, edited by owners, and
tried without sending (dry run)."""

from __future__ import annotations

from typing import Any

from automation.models import Rule

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


def rule_update(*, rule: Rule, actor, **changes: Any) -> Rule:
    """Owners change is_enabled, subject, body, sms_body, offset_minutes, quiet_start,
    quiet_end, email_owners. The message texts are checked with messaging.rendering's
    template_validate (InvalidInput naming the field); offset 5 min..30 days; quiet hours both
    set or both empty. Changing the reminder offset re-plans the planned reminders."""
    raise NotImplementedError


def rule_dry_run(*, rule: Rule, contact=None, booking=None) -> dict[str, Any]:
    """What the rule would do now for this contact or booking, without doing it:
    {"would": "send"|"skip"|"act", "reason", "channel", "to", "subject", "body",
    "attachments": [filename, ...]}. InvalidInput when the rule needs a booking and none is
    given (or a contact)."""
    raise NotImplementedError
