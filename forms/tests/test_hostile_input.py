"""Input a database or a decoder cannot take is a clear 400, never a 500: NUL characters and
lone surrogates in answers and field definitions, JSON nested too deep, ids that are digits to
str.isdigit() but not to int(), a filter holding a NUL, and bodies larger than a form can use."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bookings.tests.factories import BookingFactory
from careops.errors import InvalidInput
from forms.answers import clean_answers
from forms.fields import BAD_CHARACTERS, MAX_FILE_FIELDS, clean_field_definitions
from forms.models import FormSubmission, FormTemplate
from forms.services import submission_token
from forms.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db

SUBMIT = "/api/v1/forms/submissions"
TEMPLATES = "/api/v1/forms/templates"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"
VALID = {
    "full_name": "Ann Lee",
    "visit": "Yes",
    "consent": True,
    "signature": "Ann Lee",
}
# A JSON body holding a lone surrogate: json.dumps escapes it as \ud800, which json.loads
# turns back into a str that cannot be encoded as UTF-8.
SURROGATE = "\ud800"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def submission(workspace_a):
    return FormSubmissionFactory(workspace=workspace_a, template__name="Intake")


def post_json(api, url, payload):
    return api.post(url, data=json.dumps(payload), content_type="application/json")


def field_messages(response) -> dict[str, str]:
    return {name: errors[0]["message"] for name, errors in response.json()["fields"].items()}


# --- Answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("full_name", "Ann\x00Lee"),
        ("full_name", f"Ann {SURROGATE}"),
        ("signature", "Ann\x00Lee"),
        ("history", f"{SURROGATE} long"),
        ("email", "ann\x00@example.org"),
        ("visit", "Yes\x00"),
        ("areas", ["Back", f"Neck{SURROGATE}"]),
        ("areas", ["Back\x00"]),
        ("age", "4\x002"),
    ],
)
def test_an_api_answer_with_a_nul_or_a_lone_surrogate_is_a_field_error(
    anon_api, submission, key, value
):
    payload = {"token": submission_token(submission), "answers": {**VALID, key: value}}

    response = post_json(anon_api, SUBMIT, payload)

    assert response.status_code == 400
    assert field_messages(response)[f"answers.{key}"] == BAD_CHARACTERS
    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.PENDING


def test_a_multipart_answers_part_with_a_nul_is_a_field_error(anon_api, submission):
    response = anon_api.post(
        SUBMIT,
        {
            "token": submission_token(submission),
            "answers": json.dumps({**VALID, "full_name": "Ann\x00"}),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert field_messages(response) == {"answers.full_name": BAD_CHARACTERS}


def test_a_page_answer_with_a_nul_shows_the_form_again_with_the_message(client, submission):
    response = client.post(
        reverse("form-public", args=[submission_token(submission)]),
        {**VALID, "consent": "on", "full_name": "Ann\x00Lee"},
    )

    assert response.status_code == 400
    assert BAD_CHARACTERS in response.content.decode()
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_a_long_number_is_stored_exactly_not_rounded_to_28_digits():
    fields = clean_field_definitions([{"key": "n", "type": "number", "label": "N"}])

    long = "1234567890123456789012345678901234.5678"  # 38 significant digits
    assert clean_answers(fields, {"n": long}).answers == {"n": long}
    assert clean_answers(fields, {"n": "-0.000000000000000000000000000000123400"}).answers == {
        "n": "-0.0000000000000000000000000000001234"
    }
    assert clean_answers(fields, {"n": "1E+2"}).answers == {"n": "100"}


# --- Field definitions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ({"type": "text", "label": "Notes\x00"}, "fields.0.label"),
        ({"type": "text", "label": f"Notes {SURROGATE}"}, "fields.0.label"),
        ({"type": "text", "label": "Notes", "help_text": "a\x00b"}, "fields.0.help_text"),
        ({"type": "text", "label": "Notes", "key": "notes\x00"}, "fields.0.key"),
        ({"type": "text", "label": "Notes", "key": f"n{SURROGATE}"}, "fields.0.key"),
        (
            {"type": "single_choice", "label": "Pick", "choices": ["A", "B\x00"]},
            "fields.0.choices",
        ),
        (
            {"type": "multiple_choice", "label": "Pick", "choices": [f"A{SURROGATE}"]},
            "fields.0.choices",
        ),
    ],
)
def test_a_field_definition_with_a_nul_or_a_lone_surrogate_is_a_field_error(
    owner_api, workspace_a, field, name
):
    response = post_json(owner_api, TEMPLATES, {"name": "Intake", "fields": [field]})

    assert response.status_code == 400
    assert name in field_messages(response)
    assert not FormTemplate.objects.exists()


def test_a_template_name_or_description_with_a_nul_is_a_field_error(owner_api, workspace_a):
    # The serializer's CharFields refuse it first; the service refuses it too (the admin, the
    # builder's details form).
    response = post_json(
        owner_api, TEMPLATES, {"name": "Intake\x00", "description": "x\x00", "fields": []}
    )

    assert response.status_code == 400
    assert set(field_messages(response)) == {"name", "description"}


def test_a_form_asks_for_a_bounded_number_of_files():
    files = [{"type": "file", "label": f"File {n}"} for n in range(MAX_FILE_FIELDS + 1)]

    with pytest.raises(InvalidInput) as caught:
        clean_field_definitions(files)

    assert "file upload fields" in caught.value.fields["fields"][0]


# --- JSON nested too deep -----------------------------------------------------------------------


def test_json_nested_100k_deep_is_a_400_on_a_json_endpoint(owner_api, workspace_a):
    body = "[" * 100_000 + "]" * 100_000

    response = owner_api.post(TEMPLATES, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_json_nested_100k_deep_is_a_400_on_the_public_submission(anon_api, submission):
    body = '{"token": "x", "answers": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = anon_api.post(SUBMIT, data=body, content_type="application/json")

    assert response.status_code == 400


def test_a_multipart_answers_part_nested_too_deep_is_a_field_error(anon_api, submission):
    response = anon_api.post(
        SUBMIT,
        {"token": submission_token(submission), "answers": "[" * 100_000 + "]" * 100_000},
        format="multipart",
    )

    assert response.status_code == 400
    assert field_messages(response) == {"answers": "Give the answers as a JSON object."}


# --- Ids that only look like digits -------------------------------------------------------------


def test_the_send_page_with_a_superscript_booking_id_is_not_found(staff_client, workspace_a):
    response = staff_client.get(reverse("form-send"), {"booking": "²"})

    assert response.status_code == 404


def test_the_send_page_with_a_superscript_or_huge_contact_id_ignores_it(staff_client, workspace_a):
    for raw in ("²", "9" * 40):
        response = staff_client.get(reverse("form-send"), {"contact": raw})

        assert response.status_code == 200
        assert response.context["form"]["contact"].value() is None


def test_the_send_page_with_a_huge_booking_id_is_not_found(staff_client, workspace_a):
    BookingFactory(workspace=workspace_a)

    response = staff_client.get(reverse("form-send"), {"booking": "9" * 40})

    assert response.status_code == 404


# --- Bodies larger than the form can use --------------------------------------------------------


def _big_pdf(size: int) -> SimpleUploadedFile:
    return SimpleUploadedFile("scan.pdf", PDF + b"0" * size, content_type="application/pdf")


def test_the_page_refuses_files_past_the_forms_budget_with_the_form_and_a_message(
    client, submission, settings
):
    settings.FORM_UPLOAD_MAX_BYTES = 1024  # the intake form has one file field
    page = reverse("form-public", args=[submission_token(submission)])

    response = client.post(page, {**VALID, "consent": "on", "referral": _big_pdf(512 * 1024)})

    assert response.status_code == 400
    assert "The files are too large: each may be at most 1 KB." in response.content.decode()
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_the_page_does_not_read_a_body_announced_past_the_budget(client, submission, settings):
    settings.FORM_UPLOAD_MAX_BYTES = 1024
    page = reverse("form-public", args=[submission_token(submission)])
    body = b"--BoUnDaRy--\r\n"

    response = client.generic(
        "POST",
        page,
        body,
        content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(10 * 1024 * 1024 * 1024),  # ten gigabytes, announced
    )

    assert response.status_code == 400
    assert "The files are too large" in response.content.decode()


def test_the_api_refuses_files_past_the_budget_with_a_clear_400(anon_api, submission, settings):
    settings.FORM_UPLOAD_MAX_BYTES = 1024
    files = {f"files.f{n}": _big_pdf(200 * 1024) for n in range(MAX_FILE_FIELDS)}

    response = anon_api.post(
        SUBMIT,
        {"token": submission_token(submission), "answers": json.dumps(VALID), **files},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "upload_too_large"
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_a_malformed_multipart_body_is_a_400(anon_api, submission):
    response = anon_api.generic(
        "POST",
        SUBMIT,
        b'--BoUnDaRy\r\nContent-Disposition: form-data; name="token"\r\n\r\nabc',
        content_type="multipart/form-data; boundary=BoUnDaRy",
    )

    assert response.status_code == 400
