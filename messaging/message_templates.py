"""Writes for message templates, and the preview the editor shows (rendering: rendering.py)."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from careops.db import storable_text
from careops.errors import InvalidInput
from messaging.models import Channel, MessageTemplate
from messaging.rendering import template_context, template_render, template_validate

log = structlog.get_logger(__name__)

# What a preview shows for the variables that only an automation fills in.
SAMPLE_CONTACT = {
    "first_name": "Alex",
    "name": "Alex Example",
    "email": "alex@example.com",
    "phone": "+447700900123",
}
SAMPLE_BOOKING = {
    "service": "Consultation",
    "start_local": "Monday 3 June, 10:00",
    "end_local": "Monday 3 June, 10:30",
    "date": "Monday 3 June",
    "time": "10:00",
    "location": "Main room",
}
SAMPLE_LINK = "https://example.com/link"

_UNCHANGED: Any = object()
NAME_MAX_LENGTH = MessageTemplate._meta.get_field("name").max_length
UNSTORABLE = "Remove the invalid characters (a NUL or an unpaired surrogate)."


def _clean(
    *, workspace, name: str, channel: str, subject: str, body: str, exclude_pk: int | None = None
) -> dict[str, str]:
    name, subject, body = name.strip(), subject.strip(), body.strip()
    # PostgreSQL stores neither NUL nor a lone surrogate: refused here, not a 500 at the insert.
    texts = {"name": name, "subject": subject, "body": body}
    if unstorable := [key for key, text in texts.items() if not storable_text(text)]:
        raise InvalidInput(fields={key: [UNSTORABLE] for key in unstorable})
    fields: dict[str, list[str]] = {}
    if not name:
        fields["name"] = ["Name the template."]
    elif len(name) > NAME_MAX_LENGTH:  # the column's limit: longer would fail the insert
        fields["name"] = [f"Keep the name under {NAME_MAX_LENGTH} characters."]
    elif (
        MessageTemplate.objects.for_workspace(workspace)
        .annotate(lower_name=Lower("name"))
        .filter(lower_name=name.lower())
        .exclude(pk=exclude_pk)
        .exists()
    ):
        fields["name"] = ["Another template has this name."]
    if channel not in ("", *Channel.values):
        fields["channel"] = ["Choose email, sms, or leave it blank for either."]
    if channel == Channel.SMS and subject:
        fields["subject"] = ["An SMS has no subject: leave it blank."]
    if not body:
        fields["body"] = ["Write the message."]
    if fields:
        raise InvalidInput(fields=fields)
    template_validate(subject, body)
    return {"name": name, "channel": channel, "subject": subject, "body": body}


def _save(template: MessageTemplate) -> MessageTemplate:
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        # A concurrent save took the name between the check and the insert.
        raise InvalidInput(fields={"name": ["Another template has this name."]}) from None
    return template


def template_create(
    *, workspace, actor, name: str, body: str, subject: str = "", channel: str = ""
) -> MessageTemplate:
    """Save a new template once it compiles in the sandbox and uses known variables only."""
    data = _clean(workspace=workspace, name=name, channel=channel, subject=subject, body=body)
    template = _save(MessageTemplate(workspace=workspace, **data))
    log.info("template_created", template_id=template.pk, actor=getattr(actor, "pk", None))
    return template


def template_update(
    *,
    template: MessageTemplate,
    actor,
    name: str = _UNCHANGED,
    body: str = _UNCHANGED,
    subject: str = _UNCHANGED,
    channel: str = _UNCHANGED,
) -> MessageTemplate:
    """Change a template; the result is validated as a whole (an SMS template has no subject)."""
    changes = {"name": name, "body": body, "subject": subject, "channel": channel}
    merged = {
        key: getattr(template, key) if value is _UNCHANGED else value
        for key, value in changes.items()
    }
    data = _clean(workspace=template.workspace, exclude_pk=template.pk, **merged)
    for key, value in data.items():
        setattr(template, key, value)
    _save(template)
    log.info("template_updated", template_id=template.pk, actor=getattr(actor, "pk", None))
    return template


def template_delete(*, template: MessageTemplate, actor) -> None:
    log.info("template_deleted", template_id=template.pk, actor=getattr(actor, "pk", None))
    template.delete()


def template_preview(*, template: MessageTemplate, workspace, contact=None) -> tuple[str, str]:
    """The template rendered for one contact of the workspace (or a sample contact), with
    sample values for what only an automation knows (the booking, the link)."""
    context = template_context(
        contact=contact, workspace=workspace, booking=SAMPLE_BOOKING, link=SAMPLE_LINK
    )
    if contact is None:
        context["contact"] = dict(SAMPLE_CONTACT)
    return template_render(template, context)
