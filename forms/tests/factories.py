from __future__ import annotations

import hashlib
from datetime import timedelta

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from forms.fields import clean_field_definitions
from forms.models import FormSubmission, FormTemplate, FormUpload
from workspaces.tests.factories import WorkspaceFactory

INTAKE_FIELDS = clean_field_definitions(
    [
        {
            "key": "full_name",
            "type": "text",
            "label": "Full name",
            "required": True,
            "maps_to": "name",
        },
        {"key": "email", "type": "email", "label": "Email", "maps_to": "email"},
        {"key": "phone", "type": "phone", "label": "Phone", "maps_to": "phone"},
        {"key": "history", "type": "long_text", "label": "Medical history"},
        {"key": "age", "type": "number", "label": "Age"},
        {"key": "birthday", "type": "date", "label": "Date of birth"},
        {
            "key": "visit",
            "type": "single_choice",
            "label": "First visit?",
            "choices": ["Yes", "No"],
            "required": True,
        },
        {
            "key": "areas",
            "type": "multiple_choice",
            "label": "Areas",
            "choices": ["Back", "Neck", "Shoulders"],
        },
        {
            "key": "consent",
            "type": "checkbox",
            "label": "I agree to the treatment terms",
            "required": True,
        },
        {"key": "referral", "type": "file", "label": "Referral letter"},
        {"key": "signature", "type": "signature", "label": "Signature", "required": True},
    ]
)


class FormTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormTemplate
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Intake form {n}")
    fields = factory.LazyFunction(lambda: [dict(f) for f in INTAKE_FIELDS])

    @factory.post_generation
    def booking_types(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.booking_types.set(extracted)


class FormSubmissionFactory(factory.django.DjangoModelFactory):
    """A pending submission of a template, snapshot taken as form_send would."""

    class Meta:
        model = FormSubmission

    workspace = factory.SubFactory(WorkspaceFactory)
    template = factory.SubFactory(
        FormTemplateFactory, workspace=factory.SelfAttribute("..workspace")
    )
    template_name = factory.SelfAttribute("template.name")
    template_version = factory.SelfAttribute("template.version")
    fields = factory.LazyAttribute(lambda o: [dict(f) for f in o.template.fields])
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    sent_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda o: o.sent_at + timedelta(hours=48))


REFERRAL_PDF = b"%PDF-1.4 referral letter"


def completed_submission(workspace, *, answers: dict, **kwargs) -> FormSubmission:
    """A submission the client has filled in and signed, with a referral letter attached (the
    `referral` answer is its upload). Needs MEDIA_ROOT pointed somewhere disposable."""
    now = timezone.now()
    submission = FormSubmissionFactory(
        workspace=workspace,
        status=FormSubmission.Status.COMPLETED,
        completed_at=now,
        signed_name="Ada Lovelace",
        signed_at=now,
        signed_ip="203.0.113.7",
        answers_sha256="ab" * 32,
        **kwargs,
    )
    upload = FormUpload.objects.create(
        workspace=workspace,
        submission=submission,
        field_key="referral",
        file=ContentFile(REFERRAL_PDF, name="upload"),
        original_name="Referral letter.pdf",
        content_type="application/pdf",
        size=len(REFERRAL_PDF),
        sha256=hashlib.sha256(REFERRAL_PDF).hexdigest(),
    )
    submission.answers = {**answers, "referral": upload.pk}
    submission.save(update_fields=["answers"])
    return submission
