"""POST /api/v1/forms/submissions: the client's answers by the token of their link."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from forms.models import FormSubmission, FormUpload
from forms.services import submission_token
from forms.tests.factories import FormSubmissionFactory

URL = "/api/v1/forms/submissions"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"
ANSWERS = {
    "full_name": "Ann Lee",
    "email": "ann@example.org",
    "visit": "Yes",
    "areas": ["Back"],
    "consent": True,
    "signature": "Ann Lee",
    "age": 41,
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def submission(workspace_a):
    return FormSubmissionFactory(workspace=workspace_a, template__name="Intake")


def test_a_client_submits_json_answers_and_gets_no_internal_ids(anon_api, submission):
    response = anon_api.post(
        URL,
        {"token": submission_token(submission), "answers": ANSWERS},
        format="json",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    submission.refresh_from_db()
    assert set(body) == {
        "status",
        "completed_at",
        "form",
        "signed_name",
        "signed_at",
        "answers_sha256",
    }
    assert body["status"] == "completed"
    assert body["form"] == "Intake"
    assert body["signed_name"] == "Ann Lee"
    assert body["answers_sha256"] == submission.answers_sha256
    assert submission.status == FormSubmission.Status.COMPLETED
    assert submission.answers["age"] == "41"
    assert submission.submitted_ip == "203.0.113.9"


def test_files_come_as_multipart_parts_named_after_their_field(anon_api, submission, media):
    response = anon_api.post(
        URL,
        {
            "token": submission_token(submission),
            "answers": json.dumps(ANSWERS),
            "files.referral": SimpleUploadedFile("letter.pdf", PDF, content_type="text/plain"),
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    upload = FormUpload.objects.get()
    assert (upload.field_key, upload.content_type) == ("referral", "application/pdf")
    assert (media / upload.file.name).read_bytes() == PDF


def test_invalid_answers_are_named_answers_dot_key(anon_api, submission):
    response = anon_api.post(
        URL,
        {
            "token": submission_token(submission),
            "answers": {**ANSWERS, "consent": False, "age": "old", "unknown": "ignored"},
        },
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {"answers.consent", "answers.age"}
    assert body["fields"]["answers.consent"][0]["message"] == "Tick this box to continue."
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_a_file_too_large_is_refused(anon_api, submission, settings, media):
    settings.FORM_UPLOAD_MAX_BYTES = 1024
    response = anon_api.post(
        URL,
        {
            "token": submission_token(submission),
            "answers": json.dumps(ANSWERS),
            "files.referral": SimpleUploadedFile("big.pdf", PDF + b"0" * 2048),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["answers.referral"][0]["message"] == (
        "The file is too large: at most 1 KB."
    )
    assert not FormUpload.objects.exists()


@pytest.mark.parametrize("answers", [["a"], "not json", 12])
def test_answers_must_be_an_object(anon_api, submission, answers):
    response = anon_api.post(
        URL, {"token": submission_token(submission), "answers": answers}, format="json"
    )

    assert response.status_code == 400
    assert "answers" in response.json()["fields"]


def test_a_forged_token_is_a_400(anon_api, submission):
    response = anon_api.post(
        URL, {"token": submission_token(submission) + "x", "answers": ANSWERS}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "link_invalid"
    assert response.json()["reason"] == "invalid"
    assert "token" in response.json()["fields"]


def test_an_expired_token_says_so(anon_api, submission, settings):
    settings.FORM_LINK_MAX_AGE_DAYS = 30
    submission.link_issued_at = datetime(2026, 1, 1, tzinfo=UTC)
    token = submission_token(submission)
    with time_machine.travel(datetime(2026, 2, 1, tzinfo=UTC), tick=False):
        response = anon_api.post(URL, {"token": token, "answers": ANSWERS}, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["reason"]) == ("link_invalid", "expired")


def test_a_second_submission_is_a_409(anon_api, submission):
    payload = {"token": submission_token(submission), "answers": ANSWERS}
    assert anon_api.post(URL, payload, format="json").status_code == 201

    response = anon_api.post(URL, payload, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "already_submitted"
    submission.refresh_from_db()
    assert response.json()["completed_at"].startswith(submission.completed_at.date().isoformat())


def test_a_stale_bearer_token_does_not_stand_in_the_way(anon_api, submission):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")

    response = anon_api.post(
        URL, {"token": submission_token(submission), "answers": ANSWERS}, format="json"
    )

    assert response.status_code == 201


def test_a_token_is_required(anon_api, db):
    response = anon_api.post(URL, {"answers": ANSWERS}, format="json")

    assert response.status_code == 400
    assert "token" in response.json()["fields"]


def test_submissions_are_rate_limited_per_address(anon_api, submission, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "form_submission": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    payload = {"token": "nonsense", "answers": ANSWERS}

    statuses = [anon_api.post(URL, payload, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]


def test_listing_is_not_public(anon_api, db):
    assert anon_api.get(URL).status_code in (401, 405)
