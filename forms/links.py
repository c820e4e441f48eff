"""Forms' part of a contact: submissions on the timeline, and moved on merge."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from contacts.links import ContactLink, TimelineEntry, register_contact_link
from contacts.models import Contact
from forms.models import FormSubmission
from workspaces.models import Area


def _url(submission: FormSubmission) -> str:
    try:
        return reverse("form-submission-detail", args=[submission.pk])
    except NoReverseMatch:
        return ""


def _timeline(contact: Contact, limit: int) -> list[TimelineEntry]:
    submissions = (
        FormSubmission.objects.for_workspace(contact.workspace_id)
        .filter(contact=contact)
        .order_by("-sent_at", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            kind="form_submission",
            at=s.completed_at or s.sent_at,
            title=f"Form: {s.template_name}",
            detail=s.get_status_display().lower(),
            url=_url(s),
            meta={"id": s.pk, "status": s.status},
        )
        for s in submissions
    ]


def _reassign(source: Contact, target: Contact) -> int:
    return FormSubmission.objects.filter(workspace_id=source.workspace_id, contact=source).update(
        contact=target
    )


register_contact_link(ContactLink("forms", _timeline, _reassign, area=Area.FORMS))
