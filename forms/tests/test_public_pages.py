"""The client's form behind /f/<token>/: prefilled, sent once, and a clear page for every way a
link can fail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from forms.fields import clean_field_definitions
from forms.models import FormSubmission, FormUpload
from forms.services import submission_token
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"

VALID = {
    "full_name": "Ann Lee",
    "email": "ann@example.org",
    "visit": "No",
    "areas": ["Back", "Shoulders"],
    "consent": "on",
    "signature": "Ann Lee",
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def contact(workspace_a):
    return ContactFactory(
        workspace=workspace_a,
        name="Ann Lee",
        email="ann@example.org",
        phone="+447700900123",
        custom_fields={"insurer": "Acme Health"},
    )


@pytest.fixture
def submission(workspace_a, contact):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")
    return FormSubmissionFactory(workspace=workspace_a, contact=contact, template=template)


def url(submission):
    return reverse("form-public", args=[submission_token(submission)])


def test_the_form_shows_the_workspace_and_is_prefilled_from_the_contact(
    client, submission, django_assert_max_num_queries
):
    # 1 query: the submission with its workspace, contact, template and booking.
    with django_assert_max_num_queries(1):
        response = client.get(url(submission))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Alpha Clinic" in page and "<h1>Intake</h1>" in page
    assert 'name="full_name" id="f-full_name"' in page
    assert 'value="Ann Lee"' in page
    assert 'value="ann@example.org"' in page
    assert 'value="+447700900123"' in page
    assert 'type="file" name="referral"' in page
    assert 'accept="application/pdf,image/jpeg,image/png,image/heic,image/webp"' in page
    assert "you sign it electronically" in page
    assert "csrfmiddlewaretoken" in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_contact_custom_field_prefills_its_mapped_field(client, workspace_a, contact):
    template = FormTemplateFactory(
        workspace=workspace_a,
        fields=clean_field_definitions(
            [{"key": "insurer", "type": "text", "label": "Insurer", "maps_to": "custom.insurer"}]
        ),
    )
    submission = FormSubmissionFactory(workspace=workspace_a, contact=contact, template=template)

    response = client.get(url(submission))

    assert 'value="Acme Health"' in response.content.decode()


def test_submitting_completes_the_form_and_thanks_the_client(client, submission, media):
    data = {**VALID, "referral": SimpleUploadedFile("letter.pdf", PDF)}

    response = client.post(url(submission), data, REMOTE_ADDR="198.51.100.4")

    done = reverse("form-public-done", args=[submission_token(submission)])
    assert response.status_code == 302
    assert response["Location"] == done
    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.COMPLETED
    assert submission.answers["areas"] == ["Back", "Shoulders"]
    assert submission.answers["consent"] is True
    assert submission.signed_name == "Ann Lee"
    assert submission.submitted_ip == "198.51.100.4"
    assert FormUpload.objects.get().original_name == "letter.pdf"

    page = client.get(done)
    assert page.status_code == 200
    assert "Thank you" in page.content.decode()
    assert "Signed by Ann Lee" in page.content.decode()


def test_invalid_answers_show_the_form_again_with_messages_and_the_values_kept(client, submission):
    data = {**VALID, "email": "ann@", "consent": "", "full_name": "Ann <Lee>"}

    response = client.post(url(submission), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "2 answers need your attention" in page
    assert '<li><a href="#f-consent">I agree to the treatment terms</a>: Tick this' in page
    assert '<p class="error" id="f-email-error">Enter a valid email address' in page
    assert 'aria-describedby=" f-email-error"' in page
    assert '<p class="error" id="f-consent-error">Tick this box to continue.</p>' in page
    assert 'value="Ann &lt;Lee&gt;"' in page  # kept, and escaped
    assert 'value="ann@"' in page
    assert 'value="Shoulders" id="f-areas-3"\n        checked' in page
    assert 'value="No" id="f-visit-2"\n        checked' in page
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_a_file_too_big_or_of_the_wrong_type_is_explained(client, submission, settings, media):
    settings.FORM_UPLOAD_MAX_BYTES = 1024
    big = SimpleUploadedFile("scan.pdf", PDF + b"0" * 2000, content_type="application/pdf")

    response = client.post(url(submission), {**VALID, "referral": big})

    assert response.status_code == 400
    assert "The file is too large: at most 1 KB." in response.content.decode()

    settings.FORM_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    fake = SimpleUploadedFile("scan.pdf", b"<html>not a pdf</html>", content_type="application/pdf")
    response = client.post(url(submission), {**VALID, "referral": fake})

    assert response.status_code == 400
    page = response.content.decode()
    assert "This type of file is not accepted: use PDF, JPEG, PNG, HEIC or WebP." in page
    assert "Files have to be chosen again." in page
    assert not FormUpload.objects.exists()


def test_a_second_submission_gets_the_already_submitted_page(client, submission):
    client.post(url(submission), VALID)

    again = client.post(url(submission), {**VALID, "full_name": "Someone else"})
    visit = client.get(url(submission))

    assert again.status_code == 409
    assert "This form has already been sent" in again.content.decode()
    assert visit.status_code == 200
    assert "This form has already been sent" in visit.content.decode()
    assert FormSubmission.objects.get().answers["full_name"] == "Ann Lee"


def test_the_done_page_of_an_open_form_leads_back_to_it(client, submission):
    token = submission_token(submission)

    response = client.get(reverse("form-public-done", args=[token]))

    assert response.status_code == 302
    assert response["Location"] == reverse("form-public", args=[token])


@pytest.mark.parametrize("path", ["form-public", "form-public-done"])
def test_a_forged_link_gets_a_clear_page(client, submission, path):
    token = submission_token(submission)

    response = client.get(reverse(path, args=[token[:-3] + "xyz"]))
    posted = client.post(reverse("form-public", args=["garbage"]), VALID)

    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
    assert posted.status_code == 404
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_an_expired_link_says_it_has_expired(client, submission, settings):
    settings.FORM_LINK_MAX_AGE_DAYS = 30
    submission.link_issued_at = datetime(2026, 1, 1, tzinfo=UTC)
    link = url(submission)
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        response = client.post(link, VALID)

    assert response.status_code == 404
    assert "This link has expired" in response.content.decode()
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_too_many_posts_from_one_address_are_turned_away(client, submission, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "form_submission": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    bad = {**VALID, "email": "nope"}

    statuses = [client.post(url(submission), bad).status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    response = client.post(url(submission), VALID)
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert FormSubmission.objects.get().status == FormSubmission.Status.PENDING


def test_the_page_is_csrf_protected(submission):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    assert browser.post(url(submission), VALID).status_code == 403

    page = browser.get(url(submission))
    token = page.cookies["csrftoken"].value
    response = browser.post(url(submission), {**VALID, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
