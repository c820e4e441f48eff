"""The staff's API of forms sent to clients: the list and its filters, one submission with its
answers, files and signature, a file's download, sending a form by hand, and a fresh link."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.services import LinkInvalid, submission_from_token
from forms.tests.factories import (
    REFERRAL_PDF,
    FormSubmissionFactory,
    FormTemplateFactory,
    completed_submission,
)
from messaging.models import Message

pytestmark = pytest.mark.django_db

LIST = "/api/v1/forms/submissions"
SEND = "/api/v1/forms/submissions/send"
PDF = REFERRAL_PDF
ANSWERS = {
    "full_name": "Ada Lovelace",
    "areas": ["Back", "Neck"],
    "consent": True,
    "signature": "Ada Lovelace",
}
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def url(submission, suffix=""):
    return f"{LIST}/{submission.pk}{suffix}"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def ada(workspace_a):
    return ContactFactory(workspace=workspace_a, name="Ada Lovelace", email="ada@example.org")


@pytest.fixture
def intake(workspace_a):
    return FormTemplateFactory(workspace=workspace_a, name="Intake")


def completed(workspace, **kwargs) -> FormSubmission:
    return completed_submission(workspace, answers=ANSWERS, **kwargs)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- The list ---------------------------------------------------------------------------------


def test_staff_list_the_workspaces_forms_newest_first(staff_api, workspace_a, ada):
    older = FormSubmissionFactory(
        workspace=workspace_a, contact=ada, sent_at=timezone.now() - timedelta(days=1)
    )
    newer = FormSubmissionFactory(workspace=workspace_a)
    FormSubmissionFactory()  # another workspace's

    response = staff_api.get(LIST)

    assert ids(response) == [newer.pk, older.pk]
    row = response.json()["results"][1]
    assert row["template"] == {
        "id": older.template_id,
        "name": older.template_name,
        "version": 1,
    }
    assert row["contact"] == {
        "id": ada.pk,
        "name": "Ada Lovelace",
        "email": ada.email,
        "phone": ada.phone,
    }
    assert (row["status"], row["booking"], row["completed_at"]) == ("pending", None, None)


def test_each_filter_narrows_the_list(staff_api, workspace_a, ada, intake):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9, contact=ada)
    for_booking = FormSubmissionFactory(workspace=workspace_a, booking=booking, contact=ada)
    of_intake = FormSubmissionFactory(workspace=workspace_a, template=intake)
    overdue = FormSubmissionFactory(workspace=workspace_a, status=FormSubmission.Status.OVERDUE)

    assert ids(staff_api.get(LIST, {"status": "overdue"})) == [overdue.pk]
    assert ids(staff_api.get(LIST, {"contact": ada.pk})) == [for_booking.pk]
    assert ids(staff_api.get(LIST, {"booking": booking.pk})) == [for_booking.pk]
    assert ids(staff_api.get(LIST, {"template": intake.pk})) == [of_intake.pk]
    assert staff_api.get(LIST, {"booking": booking.pk}).json()["results"][0]["booking"] == {
        "id": booking.pk,
        "start": "2026-03-02T09:00:00Z",
        "end": "2026-03-02T10:00:00Z",
        "status": booking.status,
    }


def test_an_unknown_filter_value_is_refused_by_name(staff_api):
    response = staff_api.get(LIST, {"status": "lost", "contact": "ada"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status", "contact"}


@pytest.mark.parametrize("rows", [3, 30])
def test_the_list_costs_the_same_queries_for_3_or_30_forms(
    staff_api, workspace_a, rows, django_assert_max_num_queries
):
    for n in range(rows):
        booking = BookingFactory(workspace=workspace_a, start=MONDAY_9 + timedelta(hours=2 * n))
        FormSubmissionFactory(workspace=workspace_a, booking=booking, contact=booking.contact)

    # user (JWT), membership+workspace, the count, the page (contact, booking, template joined)
    with django_assert_max_num_queries(4):
        response = staff_api.get(LIST)

    assert response.json()["count"] == rows


def test_an_outsider_lists_only_their_own_workspaces_forms(outsider_api, workspace_a):
    FormSubmissionFactory(workspace=workspace_a)

    assert ids(outsider_api.get(LIST)) == []


# --- One submission ---------------------------------------------------------------------------


def test_a_submission_reads_each_answer_with_its_fields_label_and_type(staff_api, workspace_a):
    submission = completed(workspace_a)
    upload = submission.uploads.get()

    body = staff_api.get(url(submission)).json()

    answers = {a["key"]: a for a in body["answers"]}
    assert [a["key"] for a in body["answers"]] == [f["key"] for f in submission.fields]
    assert answers["full_name"] == {
        "key": "full_name",
        "label": "Full name",
        "type": "text",
        "value": "Ada Lovelace",
        "display": "Ada Lovelace",
        "file": None,
    }
    assert (answers["areas"]["value"], answers["areas"]["display"]) == (
        ["Back", "Neck"],
        "Back, Neck",
    )
    assert (answers["consent"]["type"], answers["consent"]["display"]) == ("checkbox", "Yes")
    assert (answers["phone"]["value"], answers["phone"]["display"]) == (None, "")
    assert answers["signature"]["display"] == "Ada Lovelace"
    download = f"http://testserver{url(submission)}/files/{upload.pk}"
    assert answers["referral"]["value"] == upload.pk
    assert answers["referral"]["file"] == {
        "id": upload.pk,
        "field_key": "referral",
        "name": "Referral letter.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "download_url": download,
    }
    assert body["uploads"] == [answers["referral"]["file"]]
    assert body["signature"] == {
        "signed_name": "Ada Lovelace",
        "signed_at": body["signature"]["signed_at"],
        "signed_ip": "203.0.113.7",
        "answers_sha256": "ab" * 32,
    }
    assert "/media/" not in str(body)


def test_an_unsigned_submission_has_no_signature_record(owner_api, workspace_a):
    submission = FormSubmissionFactory(workspace=workspace_a)

    body = owner_api.get(url(submission)).json()

    assert (body["signature"], body["uploads"], body["status"]) == (None, [], "pending")


def test_a_submission_is_read_in_a_constant_number_of_queries(
    staff_api, workspace_a, django_assert_max_num_queries
):
    submission = completed(workspace_a)

    # user (JWT), membership+workspace, the submission (contact, booking, template, sender
    # joined), its uploads
    with django_assert_max_num_queries(4):
        response = staff_api.get(url(submission))

    assert response.status_code == 200


def test_an_outsider_gets_404_for_another_workspaces_submission_and_file(outsider_api, workspace_a):
    submission = completed(workspace_a)
    upload = submission.uploads.get()

    assert outsider_api.get(url(submission)).status_code == 404
    assert outsider_api.get(url(submission, f"/files/{upload.pk}")).status_code == 404
    assert outsider_api.post(url(submission, "/resend"), {}, format="json").status_code == 404


# --- Files ------------------------------------------------------------------------------------


def test_a_file_downloads_with_its_stored_bytes_and_original_name(staff_api, workspace_a):
    submission = completed(workspace_a)
    upload = submission.uploads.get()

    response = staff_api.get(url(submission, f"/files/{upload.pk}"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"] == 'attachment; filename="Referral letter.pdf"'
    assert response["Content-Type"] == "application/pdf"


def test_a_file_is_not_found_under_another_submission(staff_api, workspace_a):
    upload = completed(workspace_a).uploads.get()
    other = FormSubmissionFactory(workspace=workspace_a)

    assert staff_api.get(url(other, f"/files/{upload.pk}")).status_code == 404


# --- Sending by hand --------------------------------------------------------------------------


def test_staff_send_a_form_and_get_its_link_and_the_client_a_message(
    staff_api, staff, workspace_a, ada, intake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(
            SEND, {"template": intake.pk, "contact_id": ada.pk}, format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    submission = FormSubmission.objects.for_workspace(workspace_a).get()
    assert body["id"] == submission.pk
    assert (body["status"], body["source"], body["template"]["name"]) == (
        "pending",
        "api",
        "Intake",
    )
    assert body["sent_by"]["id"] == staff.pk
    assert submission_from_token(body["link"].rstrip("/").rsplit("/", 1)[1]) == submission
    message = Message.objects.get(workspace=workspace_a, conversation__contact=ada)
    assert (message.direction, message.channel, message.to_address) == (
        "outbound",
        "email",
        "ada@example.org",
    )
    assert body["link"] in message.body


def test_a_form_for_a_booking_is_sent_once(owner_api, workspace_a, ada, intake):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9, contact=ada)
    payload = {"template": intake.pk, "contact_id": ada.pk, "booking_id": booking.pk}

    first = owner_api.post(SEND, payload, format="json")
    again = owner_api.post(SEND, payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["booking"]["id"] == booking.pk


def test_a_form_can_be_created_without_messaging_the_client(staff_api, workspace_a, intake):
    unreachable = ContactFactory(workspace=workspace_a, email="", phone="")

    response = staff_api.post(
        SEND, {"template": intake.pk, "contact_id": unreachable.pk, "deliver": False}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["link"].startswith("http")
    assert not Message.objects.exists()


def test_sending_to_a_contact_who_cannot_be_reached_names_the_channel(
    staff_api, workspace_a, intake
):
    unreachable = ContactFactory(workspace=workspace_a, email="", phone="")

    response = staff_api.post(
        SEND, {"template": intake.pk, "contact_id": unreachable.pk}, format="json"
    )

    assert response.status_code == 400
    assert "channel" in response.json()["fields"]
    assert not FormSubmission.objects.exists()


def test_an_outsider_gets_404_sending_another_workspaces_form_or_to_its_contact(
    outsider_api, workspace_a, workspace_b, ada, intake
):
    theirs = FormTemplateFactory(workspace=workspace_b)
    their_contact = ContactFactory(workspace=workspace_b, email="bea@example.org")
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9, contact=ada)

    with_our_form = outsider_api.post(
        SEND, {"template": intake.pk, "contact_id": their_contact.pk}, format="json"
    )
    to_our_contact = outsider_api.post(
        SEND, {"template": theirs.pk, "contact_id": ada.pk}, format="json"
    )
    for_our_booking = outsider_api.post(
        SEND,
        {"template": theirs.pk, "contact_id": their_contact.pk, "booking_id": booking.pk},
        format="json",
    )

    assert with_our_form.status_code == 404
    assert to_our_contact.status_code == 404
    assert for_our_booking.status_code == 404
    assert not FormSubmission.objects.exists()


def test_sending_an_inactive_form_or_for_another_contacts_booking_names_the_field(
    staff_api, workspace_a, ada, intake
):
    someone_else = ContactFactory(workspace=workspace_a, email="cy@example.org")
    their_booking = BookingFactory(workspace=workspace_a, start=MONDAY_9, contact=someone_else)
    draft = FormTemplateFactory(workspace=workspace_a, is_active=False)

    inactive = staff_api.post(SEND, {"template": draft.pk, "contact_id": ada.pk}, format="json")
    wrong_booking = staff_api.post(
        SEND,
        {"template": intake.pk, "contact_id": ada.pk, "booking_id": their_booking.pk},
        format="json",
    )

    assert inactive.status_code == 400
    assert list(inactive.json()["fields"]) == ["template"]
    assert wrong_booking.status_code == 400
    assert list(wrong_booking.json()["fields"]) == ["booking_id"]
    assert not FormSubmission.objects.exists()


def test_sending_needs_a_form_and_a_contact(staff_api):
    response = staff_api.post(SEND, {"channel": "fax"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"template", "contact_id", "channel"}


# --- A fresh link -----------------------------------------------------------------------------


def test_resending_an_open_form_revokes_the_old_link_and_messages_the_client(
    staff_api, workspace_a, ada, intake
):
    sent = staff_api.post(SEND, {"template": intake.pk, "contact_id": ada.pk}, format="json")
    old_link = sent.json()["link"]

    response = staff_api.post(f"{LIST}/{sent.json()['id']}/resend", {}, format="json")

    assert response.status_code == 200
    new_link = response.json()["link"]
    assert new_link != old_link
    submission = FormSubmission.objects.get()
    assert submission_from_token(new_link.rstrip("/").rsplit("/", 1)[1]) == submission
    with pytest.raises(LinkInvalid):
        submission_from_token(old_link.rstrip("/").rsplit("/", 1)[1])
    bodies = list(Message.objects.order_by("pk").values_list("body", flat=True))
    assert len(bodies) == 2
    assert new_link in bodies[1]


def test_a_completed_form_is_not_resent(staff_api, workspace_a):
    submission = completed(workspace_a)

    response = staff_api.post(url(submission, "/resend"), {}, format="json")

    assert response.status_code == 409
    assert not Message.objects.exists()
