"""Sending a form, its signed link, the client's one submission, and the overdue sweep."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from bookings.services import booking_manage_token
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission, FormUpload
from forms.selectors import templates_for_booking
from forms.services import (
    AlreadySubmitted,
    LinkInvalid,
    form_send,
    submission_from_token,
    submission_link,
    submission_submit,
    submission_token,
    submissions_mark_overdue,
)
from forms.signals import form_overdue, form_sent, form_submitted
from forms.tasks import forms_mark_overdue
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from messaging.models import Channel, Conversation, Message
from messaging.services import NoChannel
from messaging.tests.factories import IntegrationFactory
from tests.concurrency import race

RESEND = "/resend/emails"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"

ANSWERS = {
    "full_name": "Ann Lee",
    "email": "Ann@Example.org",
    "visit": "Yes",
    "areas": ["Neck", "Back"],
    "consent": True,
    "signature": "Ann Lee",
    "age": "41",
}


def resend(workspace, stand_in):
    return IntegrationFactory(
        workspace=workspace,
        provider="resend",
        channel=Channel.EMAIL,
        priority=1,
        from_address="hello@alpha.example",
        credentials={"api_key": "re_live_key_1234", "api_url": stand_in.url + "/resend/"},
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def template(workspace_a):
    return FormTemplateFactory(workspace=workspace_a, name="Intake", due_hours=72)


@pytest.fixture
def contact(workspace_a):
    return ContactFactory(workspace=workspace_a, name="Ann Lee", email="ann@example.org")


@pytest.fixture
def submission(workspace_a, contact, template):
    return FormSubmissionFactory(workspace=workspace_a, contact=contact, template=template)


class Received:
    """Records a signal's sendings, and whether each came inside a transaction."""

    def __init__(self, signal):
        self.calls: list[tuple[FormSubmission, bool]] = []
        self.signal = signal
        signal.connect(self.receive, dispatch_uid=f"test-{id(self)}")

    def receive(self, sender, submission, **kwargs):
        self.calls.append((submission, transaction.get_connection().in_atomic_block))

    def disconnect(self):
        self.signal.disconnect(dispatch_uid=f"test-{id(self)}")


@pytest.fixture
def received():
    made = []

    def _listen(signal):
        listener = Received(signal)
        made.append(listener)
        return listener

    yield _listen
    for listener in made:
        listener.disconnect()


# --- Sending ------------------------------------------------------------------------------------


def test_sending_creates_a_pending_submission_and_emails_its_link(
    workspace_a, template, contact, owner, stand_in, django_capture_on_commit_callbacks, received
):
    resend(workspace_a, stand_in)
    sent = received(form_sent)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    with django_capture_on_commit_callbacks(execute=True):
        submission = form_send(
            workspace=workspace_a, template=template, contact=contact, actor=owner, now=now
        )

    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.PENDING
    assert (submission.sent_at, submission.due_at) == (now, now + timedelta(hours=72))
    assert submission.sent_by == owner
    assert submission.source == FormSubmission.Source.MANUAL
    message = Message.objects.get()
    assert message.sender_kind == Message.SenderKind.SYSTEM
    assert message.sender_reference == f"form:{submission.pk}"
    assert message.status == Message.Status.SENT
    (request,) = stand_in.requests_to(RESEND)
    assert request.json["to"] == ["ann@example.org"]
    assert request.json["subject"] == "Alpha Clinic: please fill in Intake"
    text = request.json["text"]
    assert "Hello Ann," in text
    assert "Alpha Clinic asks you to fill in a form: Intake" in text
    # 72 hours after 09:00 UTC on 2 March, in the workspace's zone (London, GMT then).
    assert "before Thursday 5 March 2026, 09:00 (Europe/London)" in text
    link = text.split("(Europe/London):", 1)[1].split()[0]
    assert link.startswith("http") and "/f/" in link
    assert submission_from_token(link.rstrip("/").rsplit("/", 1)[1]) == submission
    assert sent.calls == [(submission, True)]


def test_the_snapshot_keeps_the_fields_as_sent(workspace_a, template, contact):
    submission = form_send(workspace=workspace_a, template=template, contact=contact, deliver=False)
    sent_fields = [dict(f) for f in template.fields]

    template.fields = template.fields[:1]
    template.name = "Renamed"
    template.version = 2
    template.save()

    submission.refresh_from_db()
    assert submission.fields == sent_fields
    assert (submission.template_name, submission.template_version) == ("Intake", 1)
    assert not Message.objects.exists()


def test_an_sms_only_contact_gets_a_one_line_text(workspace_a, template):
    contact = ContactFactory(workspace=workspace_a, email="", sms_consent=True)

    form_send(workspace=workspace_a, template=template, contact=contact)

    message = Message.objects.get()
    assert message.channel == Channel.SMS
    assert message.subject == ""
    assert message.body.startswith('Alpha Clinic: please fill in "Intake" before ')
    assert "\n" not in message.body


def test_a_contact_who_cannot_be_reached_is_refused_and_nothing_is_stored(workspace_a, template):
    contact = ContactFactory(workspace=workspace_a, email="", phone="", name="Walk In")

    with pytest.raises(NoChannel) as caught:
        form_send(workspace=workspace_a, template=template, contact=contact)

    assert caught.value.status_code == 400
    assert not FormSubmission.objects.exists()
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def test_an_inactive_template_or_another_workspaces_contact_is_refused(
    workspace_a, workspace_b, template, contact
):
    template.is_active = False
    template.save()
    with pytest.raises(InvalidInput) as caught:
        form_send(workspace=workspace_a, template=template, contact=contact, deliver=False)
    assert "template" in caught.value.fields

    other = FormTemplateFactory(workspace=workspace_a)
    stranger = ContactFactory(workspace=workspace_b)
    with pytest.raises(InvalidInput) as caught:
        form_send(workspace=workspace_a, template=other, contact=stranger, deliver=False)
    assert set(caught.value.fields) == {"contact_id"}
    assert not FormSubmission.objects.exists()


def test_a_booking_is_sent_the_live_forms_of_its_service(workspace_a, contact):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    booking = BookingFactory(workspace=workspace_a, booking_type=booking_type, contact=contact)
    intake = FormTemplateFactory(workspace=workspace_a, booking_types=[booking_type])
    consent = FormTemplateFactory(workspace=workspace_a, booking_types=[booking_type])
    FormTemplateFactory(workspace=workspace_a, booking_types=[booking_type], is_active=False)
    FormTemplateFactory(workspace=workspace_a)  # not for this type

    assert set(templates_for_booking(booking=booking)) == {intake, consent}


def test_sending_a_bookings_form_twice_keeps_one_submission(workspace_a, contact):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    booking = BookingFactory(workspace=workspace_a, booking_type=booking_type, contact=contact)
    intake = FormTemplateFactory(workspace=workspace_a, booking_types=[booking_type])

    first, second = (
        form_send(
            workspace=workspace_a,
            template=intake,
            contact=contact,
            booking=booking,
            source=FormSubmission.Source.BOOKING,
        )
        for _ in range(2)
    )

    assert first.pk == second.pk
    assert FormSubmission.objects.get().source == "booking"
    assert Message.objects.count() == 1
    assert "for your appointment on" in Message.objects.get().body


def test_the_link_is_absolute_and_names_the_submission(submission, settings):
    settings.SITE_URL = "https://app.careops.example"

    link = submission_link(submission)

    assert link.startswith("https://app.careops.example/f/")
    token = link.removeprefix("https://app.careops.example/f/").rstrip("/")
    found = submission_from_token(token)
    assert found == submission
    assert found.workspace == submission.workspace  # loaded with it


def test_a_forged_token_is_invalid(submission):
    token = submission_token(submission)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for bad in (forged, "", "nonsense", "a:b:c", booking_manage_token(BookingFactory())):
        with pytest.raises(LinkInvalid) as caught:
            submission_from_token(bad)
        assert caught.value.extra == {"reason": "invalid"}


def test_a_submission_has_one_link_whenever_it_is_asked_for(submission):
    """The link is signed with the time its nonce was issued, not the clock's: the link in the
    message and the link the API shows are one string, even a second apart."""
    first = submission_token(submission)
    with time_machine.travel(submission.link_issued_at + timedelta(seconds=61), tick=False):
        assert submission_token(submission) == first
        assert submission_from_token(first) == submission


def test_a_new_nonce_revokes_the_links_sent_before(submission):
    token = submission_token(submission)
    submission.token_nonce = "fresh-nonce"
    submission.save()

    with pytest.raises(LinkInvalid):
        submission_from_token(token)
    assert submission_from_token(submission_token(submission)) == submission


def test_the_link_expires_after_the_configured_days(submission, settings):
    settings.FORM_LINK_MAX_AGE_DAYS = 30
    submission.link_issued_at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    token = submission_token(submission)
    with time_machine.travel(datetime(2026, 3, 31, 11, 59, tzinfo=UTC), tick=False):
        assert submission_from_token(token) == submission
    later = time_machine.travel(datetime(2026, 3, 31, 12, 1, tzinfo=UTC), tick=False)
    with later, pytest.raises(LinkInvalid) as caught:
        submission_from_token(token)
    assert caught.value.extra == {"reason": "expired"}
    assert "expired" in caught.value.message


def test_a_deleted_submissions_link_is_invalid(submission):
    token = submission_token(submission)
    submission.delete()

    with pytest.raises(LinkInvalid):
        submission_from_token(token)


# --- Submitting ---------------------------------------------------------------------------------


def test_submitting_completes_the_form_with_a_signature_record(submission, received):
    submitted = received(form_submitted)
    now = timezone.now()

    submission_submit(submission=submission, data=ANSWERS, ip="203.0.113.7", now=now)

    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.COMPLETED
    assert submission.completed_at == now
    assert submission.answers == {
        "full_name": "Ann Lee",
        "email": "ann@example.org",
        "visit": "Yes",
        "areas": ["Back", "Neck"],
        "consent": True,
        "signature": "Ann Lee",
        "age": "41",
    }
    assert (submission.signed_name, submission.signed_at) == ("Ann Lee", now)
    assert submission.signed_ip == submission.submitted_ip == "203.0.113.7"
    document = {"answers": submission.answers, "files": {}}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    assert submission.answers_sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert submitted.calls == [(submission, True)]


def test_an_overdue_form_can_still_be_submitted(submission):
    submission.status = FormSubmission.Status.OVERDUE
    submission.save()

    submission_submit(submission=submission, data=ANSWERS)

    assert FormSubmission.objects.get().status == FormSubmission.Status.COMPLETED


def test_files_are_stored_through_the_storage(submission, media):
    letter = SimpleUploadedFile("My letter.pdf", PDF, content_type="application/octet-stream")

    submission_submit(submission=submission, data=ANSWERS, files={"referral": letter})

    upload = FormUpload.objects.get()
    assert upload.workspace_id == submission.workspace_id
    assert (upload.field_key, upload.original_name) == ("referral", "My letter.pdf")
    assert (upload.content_type, upload.size) == ("application/pdf", len(PDF))
    assert upload.sha256 == hashlib.sha256(PDF).hexdigest()
    assert upload.file.name.startswith(f"forms/{submission.workspace_id}/{submission.pk}/")
    assert "letter" not in upload.file.name
    assert (media / upload.file.name).read_bytes() == PDF
    submission.refresh_from_db()
    assert submission.answers["referral"] == upload.pk


def test_invalid_answers_store_nothing(submission, media):
    letter = SimpleUploadedFile("a.pdf", PDF)

    with pytest.raises(InvalidInput) as caught:
        submission_submit(
            submission=submission,
            data={**ANSWERS, "consent": False, "visit": "Maybe"},
            files={"referral": letter},
        )

    assert set(caught.value.fields) == {"answers.consent", "answers.visit"}
    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.PENDING
    assert submission.answers == {}
    assert not FormUpload.objects.exists()
    assert not list(media.rglob("*.*")) and not [p for p in media.rglob("*") if p.is_file()]


def test_files_are_removed_when_the_transaction_rolls_back(submission, media):
    def fail(sender, submission, **kwargs):
        raise RuntimeError("a receiver failed")

    form_submitted.connect(fail, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            submission_submit(
                submission=submission,
                data=ANSWERS,
                files={"referral": SimpleUploadedFile("a.pdf", PDF)},
            )
    finally:
        form_submitted.disconnect(dispatch_uid="test-fail")

    assert not FormUpload.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_a_second_submission_is_refused(submission):
    submission_submit(submission=submission, data=ANSWERS)

    with pytest.raises(AlreadySubmitted) as caught:
        submission_submit(submission=submission, data={**ANSWERS, "full_name": "Changed"})

    assert caught.value.status_code == 409
    assert FormSubmission.objects.get().answers["full_name"] == "Ann Lee"


def test_a_stale_copy_of_a_completed_submission_is_refused(submission):
    stale = FormSubmission.objects.get(pk=submission.pk)
    submission_submit(submission=submission, data=ANSWERS)

    with pytest.raises(AlreadySubmitted):
        submission_submit(submission=stale, data=ANSWERS)


def test_a_bad_ip_address_is_not_recorded(submission):
    submission_submit(submission=submission, data=ANSWERS, ip="not-an-ip")

    submission.refresh_from_db()
    assert submission.submitted_ip is None
    assert submission.status == FormSubmission.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_only_one_wins(workspace_a):
    submission = FormSubmissionFactory(workspace=workspace_a)

    def submit(i):
        fresh = FormSubmission.objects.get(pk=submission.pk)
        return submission_submit(
            submission=fresh, data={**ANSWERS, "full_name": f"Client {i}"}
        ).answers["full_name"]

    results, errors = race(submit, 2)

    assert len(results) == 1
    assert len(errors) == 1 and isinstance(errors[0], AlreadySubmitted)
    assert FormSubmission.objects.get().answers["full_name"] == results[0]


# --- Overdue ------------------------------------------------------------------------------------


def test_pending_forms_past_due_are_marked_overdue_once(workspace_a, received):
    overdue = received(form_overdue)
    now = timezone.now()
    late = FormSubmissionFactory(
        workspace=workspace_a, sent_at=now - timedelta(days=3), due_at=now - timedelta(hours=1)
    )
    FormSubmissionFactory(workspace=workspace_a, sent_at=now, due_at=now + timedelta(hours=1))
    done = FormSubmissionFactory(
        workspace=workspace_a,
        sent_at=now - timedelta(days=3),
        due_at=now - timedelta(hours=1),
        status=FormSubmission.Status.COMPLETED,
        completed_at=now - timedelta(hours=2),
    )

    assert submissions_mark_overdue(now=now) == 1
    assert submissions_mark_overdue(now=now) == 0

    late.refresh_from_db()
    assert (late.status, late.overdue_at) == (FormSubmission.Status.OVERDUE, now)
    assert [(s.pk, in_tx) for s, in_tx in overdue.calls] == [(late.pk, True)]
    done.refresh_from_db()
    assert done.status == FormSubmission.Status.COMPLETED


def test_the_overdue_sweep_works_in_batches(workspace_a, monkeypatch):
    from forms.services import sending as module

    monkeypatch.setattr(module, "OVERDUE_BATCH", 2)
    now = timezone.now()
    for _ in range(5):
        FormSubmissionFactory(
            workspace=workspace_a, sent_at=now - timedelta(days=3), due_at=now - timedelta(days=1)
        )

    assert submissions_mark_overdue(now=now) == 5
    assert not FormSubmission.objects.filter(status="pending").exists()


def test_the_hourly_task_marks_overdue_and_is_idempotent(workspace_a):
    now = timezone.now()
    FormSubmissionFactory(
        workspace=workspace_a, sent_at=now - timedelta(days=3), due_at=now - timedelta(days=1)
    )

    assert forms_mark_overdue.delay().get() == 1
    assert forms_mark_overdue.delay().get() == 0
    assert FormSubmission.objects.get().status == FormSubmission.Status.OVERDUE


def test_the_task_is_scheduled_hourly():
    from careops.schedule import PERIODIC_TASKS

    assert {"task": "forms.tasks.forms_mark_overdue", "every": 3600} in PERIODIC_TASKS.values()
