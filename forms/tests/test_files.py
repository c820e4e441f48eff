"""A client's uploaded file, served to staff: only to members of the workspace that owns it, as
an attachment to save (never a page the browser renders), and only under a content type no
browser runs code from, whatever type was stored."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from forms.models import FormUpload
from forms.tests.factories import completed_submission

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def stored(workspace, *, content: bytes, content_type: str, name: str) -> FormUpload:
    """A file as it would be if a looser FORM_UPLOAD_CONTENT_TYPES had once let it in."""
    submission = completed_submission(workspace, answers={"full_name": "Ada"})
    return FormUpload.objects.create(
        workspace=workspace,
        submission=submission,
        field_key="attachment",  # beside the referral letter completed_submission attaches
        file=ContentFile(content, name="upload"),
        original_name=name,
        content_type=content_type,
        size=len(content),
        sha256="0" * 64,
    )


def page_url(upload: FormUpload) -> str:
    return reverse("form-upload-download", args=[upload.submission_id, upload.pk])


def api_url(upload: FormUpload) -> str:
    return reverse("form-submission-file", args=[upload.submission_id, upload.pk])


def test_a_pdf_is_an_attachment_that_cannot_be_sniffed_or_run(staff_client, workspace_a):
    upload = completed_submission(workspace_a, answers={"full_name": "Ada"}).uploads.get()

    response = staff_client.get(page_url(upload))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("content", "content_type", "name"),
    [
        (SVG, "image/svg+xml", "logo.svg"),
        (b"<script>alert(1)</script>", "text/html", "letter.html"),
        (b"<script>alert(1)</script>", "TEXT/HTML; charset=utf-8", "letter.htm"),
        (b"alert(1)", "application/javascript", "x.js"),
    ],
    ids=["svg", "html", "html-with-charset", "javascript"],
)
def test_a_stored_type_a_browser_could_run_is_served_as_bytes_to_save(
    staff_client, staff_api, workspace_a, content, content_type, name
):
    upload = stored(workspace_a, content=content, content_type=content_type, name=name)

    for response in (
        staff_client.get(page_url(upload)),
        staff_api.get(api_url(upload), HTTP_X_WORKSPACE_ID=str(workspace_a.pk)),
    ):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == content


def test_a_file_name_cannot_break_out_of_the_disposition_header(staff_client, workspace_a):
    upload = stored(
        workspace_a,
        content=b"%PDF-1.7\n",
        content_type="application/pdf",
        name='a";\r\nContent-Type: text/html;x=".pdf',
    )

    response = staff_client.get(page_url(upload))

    assert response["Content-Type"] == "application/pdf"
    assert "\n" not in response["Content-Disposition"]
    assert response["Content-Disposition"].startswith("attachment;")


def test_another_workspace_gets_404_for_the_file_on_the_page_and_the_api(
    outsider_client, outsider_api, outsider, workspace_a
):
    upload = completed_submission(workspace_a, answers={"full_name": "Ada"}).uploads.get()
    outsiders_workspace = outsider.memberships.get().workspace_id

    page = outsider_client.get(page_url(upload))
    api = outsider_api.get(api_url(upload), HTTP_X_WORKSPACE_ID=str(outsiders_workspace))
    aimed = outsider_api.get(api_url(upload), HTTP_X_WORKSPACE_ID=str(workspace_a.pk))

    assert (page.status_code, api.status_code, aimed.status_code) == (404, 404, 404)


def test_a_visitor_who_is_not_signed_in_gets_no_file(client, anon_api, workspace_a):
    upload = completed_submission(workspace_a, answers={"full_name": "Ada"}).uploads.get()

    page = client.get(page_url(upload))
    api = anon_api.get(api_url(upload))

    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))
    assert api.status_code == 401
