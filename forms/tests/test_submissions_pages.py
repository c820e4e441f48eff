"""The staff's pages of forms sent to clients: the list, one submission with its answers, files
and signature, a file's download, sending a form by hand, and a booking's forms panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.services import template_archive
from forms.tests.factories import (
    REFERRAL_PDF,
    FormSubmissionFactory,
    FormTemplateFactory,
    completed_submission,
)
from messaging.models import Message

pytestmark = pytest.mark.django_db

PDF = REFERRAL_PDF
ANSWERS = {
    "full_name": "Ada Lovelace",
    "email": "ada@example.org",
    "history": "Knee surgery\nin 2019",
    "age": 36,
    "visit": "No",
    "areas": ["Back", "Neck"],
    "consent": True,
    "signature": "Ada Lovelace",
}
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def completed(workspace, **kwargs) -> FormSubmission:
    return completed_submission(workspace, answers=ANSWERS, **kwargs)


def queries_for(client, url: str, **extra) -> int:
    client.get(url, **extra)  # warm: the first request of a session may do more
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(captured)


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_the_workspaces_forms_newest_first(staff_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    older = FormSubmissionFactory(
        workspace=workspace_a, contact=ada, sent_at=timezone.now() - timedelta(days=2)
    )
    newer = completed(workspace_a)
    FormSubmissionFactory()  # another workspace's

    response = staff_client.get(reverse("forms"))

    assert response.status_code == 200
    assert [s.pk for s in response.context["submissions"]] == [newer.pk, older.pk]
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert older.template_name in html
    assert 'data-testid="submission-status">Pending' in html
    assert 'data-testid="submission-status">Completed' in html


def test_the_status_tabs_narrow_the_list(staff_client, workspace_a):
    pending = FormSubmissionFactory(workspace=workspace_a)
    overdue = FormSubmissionFactory(workspace=workspace_a, status=FormSubmission.Status.OVERDUE)
    done = completed(workspace_a)

    shown = {
        status: [
            s.pk
            for s in staff_client.get(reverse("forms"), {"status": status}).context["submissions"]
        ]
        for status in ("pending", "overdue", "completed")
    }

    assert shown == {"pending": [pending.pk], "overdue": [overdue.pk], "completed": [done.pk]}


def test_the_template_filter_narrows_the_list_and_keeps_the_status_tab(staff_client, workspace_a):
    intake = FormTemplateFactory(workspace=workspace_a, name="Intake")
    mine = FormSubmissionFactory(workspace=workspace_a, template=intake)
    FormSubmissionFactory(workspace=workspace_a)
    completed(workspace_a, template=intake)

    response = staff_client.get(reverse("forms"), {"template": intake.pk, "status": "pending"})

    assert [s.pk for s in response.context["submissions"]] == [mine.pk]
    assert f"template={intake.pk}&amp;status=completed" in response.content.decode()


def test_an_archived_forms_submissions_can_still_be_filtered(staff_client, workspace_a):
    old = FormTemplateFactory(workspace=workspace_a, name="Old intake")
    theirs = FormSubmissionFactory(workspace=workspace_a, template=old)
    FormSubmissionFactory(workspace=workspace_a)
    template_archive(template=old, actor=None)

    response = staff_client.get(reverse("forms"), {"template": old.pk})

    assert [s.pk for s in response.context["submissions"]] == [theirs.pk]
    assert "Old intake (archived)" in response.content.decode()


def test_a_filter_through_htmx_gets_only_the_results(staff_client, workspace_a):
    FormSubmissionFactory(workspace=workspace_a)

    response = staff_client.get(reverse("forms"), {"status": "pending"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert 'data-testid="submission"' in html
    assert "<html" not in html


def test_the_list_renders_in_constant_queries(
    staff_client, workspace_a, django_assert_max_num_queries
):
    FormSubmissionFactory.create_batch(3, workspace=workspace_a)
    few = queries_for(staff_client, reverse("forms"))
    FormSubmissionFactory.create_batch(27, workspace=workspace_a, booking=None)
    for booking_start in range(3):
        FormSubmissionFactory(
            workspace=workspace_a,
            booking=BookingFactory(
                workspace=workspace_a, start=MONDAY_9 + timedelta(hours=2 * booking_start)
            ),
        )
    many = queries_for(staff_client, reverse("forms"))

    assert few == many
    # session, user, membership+workspace, the templates (filter choices), the count, the page
    # (contact, booking and template joined), the switcher's memberships
    with django_assert_max_num_queries(7):
        staff_client.get(reverse("forms"))


# --- One submission ---------------------------------------------------------------------------


def test_the_submission_page_shows_each_answer_as_its_type_reads(staff_client, workspace_a):
    submission = completed(workspace_a)
    upload = submission.uploads.get()

    response = staff_client.get(reverse("form-submission-detail", args=[submission.pk]))

    assert response.status_code == 200
    answers = response.content.decode().split('data-testid="answers"')[1].split("</dl>")[0]
    assert "Medical history" in answers
    assert "Knee surgery<br>in 2019" in answers
    assert 'href="mailto:ada@example.org"' in answers
    assert '<span class="tag">Back</span><span class="tag">Neck</span>' in answers
    consent = answers.split('data-field="consent"')[1].split("</dd>")[0]
    assert consent.split(">", 1)[1].strip() == "Yes"  # the consent, ticked
    download = reverse("form-upload-download", args=[submission.pk, upload.pk])
    assert f'href="{download}"' in answers
    assert "Referral letter.pdf" in answers
    assert "Signed: Ada Lovelace" in answers
    assert "Not answered" in answers  # the phone and the birthday were left empty
    assert "/media/" not in response.content.decode()


def test_the_submission_page_shows_the_signature_record_and_links(staff_client, workspace_a):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9)
    submission = completed(workspace_a, booking=booking, contact=booking.contact)

    html = staff_client.get(
        reverse("form-submission-detail", args=[submission.pk])
    ).content.decode()

    signature = html.split('data-testid="signature"')[1].split("</dl>")[0]
    assert "Ada Lovelace" in signature
    assert "203.0.113.7" in signature
    assert "ab" * 32 in signature
    details = html.split('data-testid="submission-details"')[1]
    assert reverse("contact-detail", args=[booking.contact.pk]) in details
    assert reverse("booking-detail", args=[booking.pk]) in details
    assert 'data-testid="resend"' not in html  # a completed form is closed


def test_an_open_submission_lists_its_questions_and_offers_a_new_link(staff_client, workspace_a):
    submission = FormSubmissionFactory(workspace=workspace_a)

    html = staff_client.get(
        reverse("form-submission-detail", args=[submission.pk])
    ).content.decode()

    assert 'data-testid="questions"' in html
    assert 'Referral letter <span class="muted">(file)</span>' in html
    assert reverse("form-submission-resend", args=[submission.pk]) in html


def test_another_workspaces_submission_is_not_found(outsider_client, workspace_a):
    submission = completed(workspace_a)
    upload = submission.uploads.get()

    detail = outsider_client.get(reverse("form-submission-detail", args=[submission.pk]))
    download = outsider_client.get(reverse("form-upload-download", args=[submission.pk, upload.pk]))
    resend = outsider_client.post(reverse("form-submission-resend", args=[submission.pk]))

    assert (detail.status_code, download.status_code, resend.status_code) == (404, 404, 404)


# --- Files ------------------------------------------------------------------------------------


def test_a_file_downloads_with_its_stored_bytes_and_original_name(staff_client, workspace_a):
    submission = completed(workspace_a)
    upload = submission.uploads.get()

    response = staff_client.get(reverse("form-upload-download", args=[submission.pk, upload.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"] == 'attachment; filename="Referral letter.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_file_is_found_only_under_its_own_submission(staff_client, workspace_a):
    submission = completed(workspace_a)
    other = FormSubmissionFactory(workspace=workspace_a)
    upload = submission.uploads.get()

    response = staff_client.get(reverse("form-upload-download", args=[other.pk, upload.pk]))

    assert response.status_code == 404


def test_the_stored_file_is_not_named_after_the_clients_file(workspace_a):
    upload = completed(workspace_a).uploads.get()

    assert "Referral" not in upload.file.name
    assert upload.file.name.startswith(f"forms/{workspace_a.pk}/{upload.submission_id}/")


# --- A booking's forms ------------------------------------------------------------------------


def test_a_booking_shows_its_forms_status_and_a_link_to_send_one(staff_client, workspace_a):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9)
    intake = FormSubmissionFactory(
        workspace=workspace_a, booking=booking, contact=booking.contact, template_name="Intake"
    )
    consent = FormSubmissionFactory(
        workspace=workspace_a,
        booking=booking,
        contact=booking.contact,
        template_name="Consent",
        status=FormSubmission.Status.OVERDUE,
    )
    FormSubmissionFactory(workspace=workspace_a, template_name="Someone else's")

    html = staff_client.get(reverse("booking-detail", args=[booking.pk])).content.decode()

    panel = html.split('data-testid="booking-forms"')[1].split("</section>")[0]
    assert reverse("form-submission-detail", args=[intake.pk]) in panel
    assert reverse("form-submission-detail", args=[consent.pk]) in panel
    assert "Intake</a>" in panel
    assert ">Pending</span>" in panel
    assert ">Overdue</span>" in panel
    assert "Someone else" not in panel
    assert f'href="{reverse("form-send")}?booking={booking.pk}"' in panel


def test_the_booking_page_reads_its_forms_in_one_query_however_many(
    staff_client, workspace_a, django_assert_max_num_queries
):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9)
    url = reverse("booking-detail", args=[booking.pk])
    few = queries_for(staff_client, url)
    for _ in range(5):
        FormSubmissionFactory(workspace=workspace_a, booking=booking, contact=booking.contact)
    many = queries_for(staff_client, url)

    assert few == many


def test_a_contact_page_links_to_sending_them_a_form(staff_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a)

    html = staff_client.get(reverse("contact-detail", args=[ada.pk])).content.decode()

    assert f'href="{reverse("form-send")}?contact={ada.pk}"' in html


# --- Sending a form by hand -------------------------------------------------------------------


def test_the_send_page_preselects_the_contact(staff_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    FormTemplateFactory(workspace=workspace_a, name="Intake")

    response = staff_client.get(reverse("form-send"), {"contact": ada.pk})

    assert response.status_code == 200
    assert response.context["form"]["contact"].value() == ada.pk
    assert "Intake" in response.content.decode()


def test_the_send_page_for_a_booking_preselects_its_client(staff_client, workspace_a):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9)

    response = staff_client.get(reverse("form-send"), {"booking": booking.pk})

    assert response.context["form"]["contact"].value() == booking.contact_id
    assert 'data-testid="send-booking"' in response.content.decode()


def test_the_send_page_shows_each_missing_choice_on_its_field(staff_client, workspace_a):
    response = staff_client.post(reverse("form-send"), {})

    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"template", "contact"}


def test_a_client_who_cannot_be_reached_is_said_so_on_the_channel_field(staff_client, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)
    unreachable = ContactFactory(workspace=workspace_a, email="", phone="")

    response = staff_client.post(
        reverse("form-send"), {"template": template.pk, "contact": unreachable.pk}
    )

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["channel"]
    assert not FormSubmission.objects.exists()


def test_an_outsider_cannot_send_another_workspaces_form_or_to_its_contacts(
    outsider_client, workspace_a
):
    template = FormTemplateFactory(workspace=workspace_a)
    ada = ContactFactory(workspace=workspace_a, email="ada@example.org")
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9)

    refused = outsider_client.post(
        reverse("form-send"), {"template": template.pk, "contact": ada.pk}
    )
    for_booking = outsider_client.get(reverse("form-send"), {"booking": booking.pk})

    assert refused.status_code == 400
    assert set(refused.context["form"].errors) == {"template", "contact"}
    assert for_booking.status_code == 404
    assert not FormSubmission.objects.exists()


def test_staff_send_a_form_by_hand_and_the_client_is_messaged(staff_client, workspace_a, staff):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace", email="ada@example.org")

    response = staff_client.post(
        reverse("form-send"), {"template": template.pk, "contact": ada.pk, "channel": "email"}
    )

    submission = FormSubmission.objects.for_workspace(workspace_a).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("form-submission-detail", args=[submission.pk])
    assert (submission.contact, submission.template, submission.status) == (
        ada,
        template,
        FormSubmission.Status.PENDING,
    )
    assert submission.sent_by == staff
    assert Message.objects.filter(
        workspace=workspace_a, conversation__contact=ada, direction="outbound"
    ).exists()


def test_staff_send_a_form_for_a_booking(staff_client, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)
    booking = BookingFactory(
        workspace=workspace_a,
        start=MONDAY_9,
        contact=ContactFactory(workspace=workspace_a, email="ada@example.org"),
    )

    response = staff_client.post(
        f"{reverse('form-send')}?booking={booking.pk}",
        {"template": template.pk, "contact": booking.contact_id},
    )

    assert response.status_code == 302
    assert FormSubmission.objects.get().booking == booking


def test_staff_send_a_new_link_for_an_open_form(staff_client, workspace_a):
    submission = FormSubmissionFactory(
        workspace=workspace_a, contact=ContactFactory(workspace=workspace_a, email="a@example.org")
    )
    nonce = submission.token_nonce

    response = staff_client.post(reverse("form-submission-resend", args=[submission.pk]))

    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.token_nonce != nonce  # the links sent before stop working
    assert Message.objects.filter(
        workspace=workspace_a, conversation__contact=submission.contact
    ).exists()
