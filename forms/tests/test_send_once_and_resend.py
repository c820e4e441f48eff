"""A booking is sent each form once, and staff are told when nothing was sent; a fresh link
gives the client a new due time; the signature's hash covers the files; the public page and
the API share one limit per address."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from forms.models import SUBMISSION_TRANSITIONS, FormSubmission
from forms.services import (
    canonical_answers_sha256,
    form_send,
    form_send_once,
    submission_resend,
    submission_submit,
    submission_token,
    submissions_mark_overdue,
)
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from messaging.models import Message

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def ada(workspace_a):
    return ContactFactory(workspace=workspace_a, name="Ada", email="ada@example.org")


@pytest.fixture
def booking(workspace_a, ada):
    return BookingFactory(workspace=workspace_a, contact=ada, start=NOW + timedelta(days=3))


@pytest.fixture
def template(workspace_a):
    return FormTemplateFactory(workspace=workspace_a, name="Intake", due_hours=48)


# --- Sending once -------------------------------------------------------------------------------


def test_form_send_once_says_whether_it_sent(workspace_a, template, booking, ada):
    first, created = form_send_once(
        workspace=workspace_a, template=template, contact=ada, booking=booking
    )
    again, created_again = form_send_once(
        workspace=workspace_a, template=template, contact=ada, booking=booking
    )

    assert (created, created_again) == (True, False)
    assert again == first
    assert (
        form_send(workspace=workspace_a, template=template, contact=ada, booking=booking) == first
    )
    assert Message.objects.filter(conversation__contact=ada).count() == 1


def test_the_send_page_says_the_booking_already_has_the_form_and_offers_a_new_link(
    staff_client, workspace_a, template, booking, ada
):
    sent = form_send(workspace=workspace_a, template=template, contact=ada, booking=booking)

    response = staff_client.post(
        f"{reverse('form-send')}?booking={booking.pk}", {"template": template.pk, "contact": ada.pk}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="already-sent"' in html
    assert "Intake was already sent for this booking" in html
    assert reverse("form-submission-resend", args=[sent.pk]) in html
    assert FormSubmission.objects.count() == 1
    assert Message.objects.filter(conversation__contact=ada).count() == 1


def test_the_api_answers_200_when_the_booking_already_had_the_form(
    staff_api, workspace_a, template, booking, ada
):
    payload = {"template": template.pk, "contact_id": ada.pk, "booking_id": booking.pk}

    first = staff_api.post("/api/v1/forms/submissions/send", payload, format="json")
    second = staff_api.post("/api/v1/forms/submissions/send", payload, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


# --- A fresh link -------------------------------------------------------------------------------


def test_a_fresh_link_for_an_overdue_form_sets_a_new_due_time_and_makes_it_pending(
    workspace_a, template, ada
):
    submission = FormSubmissionFactory(
        workspace=workspace_a,
        template=template,
        contact=ada,
        sent_at=NOW - timedelta(days=5),
        due_at=NOW - timedelta(days=3),
    )
    submissions_mark_overdue(now=NOW)
    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.OVERDUE

    submission_resend(submission=submission, now=NOW)

    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.PENDING
    assert submission.due_at == NOW + timedelta(hours=48)
    assert submission.overdue_at is None
    # And overdue again once the new time has passed too.
    assert submissions_mark_overdue(now=NOW + timedelta(hours=49)) == 1


def test_a_fresh_link_never_shortens_the_time_a_client_has(workspace_a, template, ada):
    later = NOW + timedelta(days=30)
    submission = FormSubmissionFactory(
        workspace=workspace_a, template=template, contact=ada, sent_at=NOW, due_at=later
    )

    submission_resend(submission=submission, now=NOW)

    submission.refresh_from_db()
    assert submission.due_at == later


def test_overdue_may_go_back_to_pending_and_completed_goes_nowhere():
    assert FormSubmission.Status.PENDING in SUBMISSION_TRANSITIONS[FormSubmission.Status.OVERDUE]
    assert SUBMISSION_TRANSITIONS[FormSubmission.Status.COMPLETED] == ()


def test_the_resend_page_gives_an_overdue_form_a_new_due_time(staff_client, workspace_a, ada):
    submission = FormSubmissionFactory(
        workspace=workspace_a,
        contact=ada,
        status=FormSubmission.Status.OVERDUE,
        sent_at=NOW - timedelta(days=5),
        due_at=NOW - timedelta(days=3),
        overdue_at=NOW - timedelta(days=3),
    )

    with time_machine.travel(NOW, tick=False):
        response = staff_client.post(reverse("form-submission-resend", args=[submission.pk]))

    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.due_at) == ("pending", NOW + timedelta(hours=48))


# --- The signature covers the files -------------------------------------------------------------


def test_the_signature_hash_covers_each_files_content(workspace_a):
    answers = {
        "full_name": "Ann Lee",
        "visit": "Yes",
        "consent": True,
        "signature": "Ann Lee",
    }

    def submitted_with(content: bytes) -> FormSubmission:
        submission = FormSubmissionFactory(workspace=workspace_a)
        upload = SimpleUploadedFile("letter.pdf", content, content_type="application/pdf")
        return submission_submit(submission=submission, data=answers, files={"referral": upload})

    one, other = submitted_with(PDF), submitted_with(PDF + b"% changed\n")

    assert one.answers_sha256 != other.answers_sha256
    document = {
        "answers": one.answers,
        "files": {"referral": hashlib.sha256(PDF).hexdigest()},
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert one.answers_sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert one.answers_sha256 == canonical_answers_sha256(one.answers, document["files"])


# --- One limit per address ----------------------------------------------------------------------


def test_the_page_and_the_api_share_one_limit_per_address_across_workspaces(
    client, anon_api, workspace_a, workspace_b, settings
):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "form_submission": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ours = FormSubmissionFactory(workspace=workspace_a)
    theirs = FormSubmissionFactory(workspace=workspace_b)

    page = client.post(reverse("form-public", args=[submission_token(ours)]), {})
    api = anon_api.post(
        "/api/v1/forms/submissions",
        {"token": submission_token(theirs), "answers": {}},
        format="json",
    )
    third = client.post(reverse("form-public", args=[submission_token(theirs)]), {})

    assert (page.status_code, api.status_code, third.status_code) == (400, 400, 429)
