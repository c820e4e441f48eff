"""The support back office for forms: templates, submissions and their files."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from bookings.tests.factories import BookingTypeFactory
from forms.models import FormSubmission, FormUpload
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from workspaces.models import User
from workspaces.tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["formtemplate", "formsubmission"]
PDF = b"%PDF-1.4 referral letter"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def support(client):
    admin = User.objects.create_superuser("support@careops.test", "support-passphrase-1")
    client.force_login(admin)
    return client


def signed_with_a_file(workspace) -> FormSubmission:
    now = timezone.now()
    submission = FormSubmissionFactory(
        workspace=workspace,
        status=FormSubmission.Status.COMPLETED,
        completed_at=now,
        answers={"full_name": "Ada Lovelace", "signature": "Ada Lovelace"},
        signed_name="Ada Lovelace",
        signed_at=now,
        signed_ip="203.0.113.7",
        answers_sha256="cd" * 32,
    )
    FormUpload.objects.create(
        workspace=workspace,
        submission=submission,
        field_key="referral",
        file=ContentFile(PDF, name="upload"),
        original_name="Referral letter.pdf",
        content_type="application/pdf",
        size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
    )
    return submission


@pytest.mark.parametrize("model", CHANGELISTS)
@pytest.mark.parametrize("rows", [2, 12])
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, model, rows, django_assert_max_num_queries
):
    for n in range(rows):
        workspace = WorkspaceFactory()
        template = FormTemplateFactory(
            workspace=workspace, booking_types=[BookingTypeFactory(workspace=workspace)]
        )
        FormSubmissionFactory(
            workspace=workspace, template=template, sent_at=timezone.now() - timedelta(days=n)
        )

    # session, user, count, filtered count, the page (contact and workspace joined), the
    # date hierarchy (submissions), and the workspace filter's choices
    with django_assert_max_num_queries(8):
        response = support.get(reverse(f"admin:forms_{model}_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == rows


def test_support_finds_submissions_by_the_contacts_email_or_phone(support, workspace_a):
    ann = FormSubmissionFactory(workspace=workspace_a, contact__email="findme@example.org")
    bob = FormSubmissionFactory(workspace=workspace_a, contact__phone="+447700900555")
    FormSubmissionFactory(workspace=workspace_a)
    changelist = reverse("admin:forms_formsubmission_changelist")

    by_email = support.get(changelist, {"q": "findme@"}).context["cl"].result_list
    by_phone = support.get(changelist, {"q": "900555"}).context["cl"].result_list

    assert [s.pk for s in by_email] == [ann.pk]
    assert [s.pk for s in by_phone] == [bob.pk]


def test_the_submission_page_shows_the_record_read_only_without_a_file_url(support, workspace_a):
    submission = signed_with_a_file(workspace_a)
    upload = submission.uploads.get()

    response = support.get(reverse("admin:forms_formsubmission_change", args=[submission.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ada Lovelace" in page
    assert "203.0.113.7" in page
    assert "cd" * 32 in page
    assert "Referral letter.pdf" in page
    assert upload.file.name not in page  # the storage path is never shown, nor linked
    assert "/media/" not in page
    assert 'name="answers"' not in page  # nothing to edit
    assert 'name="status"' not in page


def test_support_cannot_change_a_submission(support, workspace_a):
    submission = signed_with_a_file(workspace_a)

    support.post(
        reverse("admin:forms_formsubmission_change", args=[submission.pk]),
        {"status": "pending", "signed_name": "Someone else"},
    )

    submission.refresh_from_db()
    assert (submission.status, submission.signed_name) == ("completed", "Ada Lovelace")


def test_a_templates_fields_are_read_only_and_its_services_are_its_workspaces(
    support, workspace_a, workspace_b
):
    ours = BookingTypeFactory(workspace=workspace_a, name="Massage")
    BookingTypeFactory(workspace=workspace_b, name="Haircut")
    template = FormTemplateFactory(workspace=workspace_a, booking_types=[ours])

    response = support.get(reverse("admin:forms_formtemplate_change", args=[template.pk]))

    assert response.status_code == 200
    choices = list(response.context["adminform"].form.fields["booking_types"].queryset)
    assert choices == [ours]
    assert 'name="fields"' not in response.content.decode()


def test_support_cannot_add_forms_or_submissions(support):
    for model in CHANGELISTS:
        assert support.get(reverse(f"admin:forms_{model}_add")).status_code == 403


def _template_form(template, **changes) -> dict:
    data = {
        "name": template.name,
        "description": template.description,
        "is_active": "on" if template.is_active else "",
        "due_hours": template.due_hours,
        "booking_types": [t.pk for t in template.booking_types.all()],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_renaming_a_template_to_another_live_ones_name_is_a_field_error(support, workspace_a):
    FormTemplateFactory(workspace=workspace_a, name="Intake")
    template = FormTemplateFactory(workspace=workspace_a, name="Consent")

    response = support.post(
        reverse("admin:forms_formtemplate_change", args=[template.pk]),
        _template_form(template, name="INTAKE"),
    )

    assert response.status_code == 200  # the form again, not a 500
    assert response.context["adminform"].form.errors["name"] == ["Another form has this name."]
    template.refresh_from_db()
    assert template.name == "Consent"


def test_support_saves_a_template_through_the_service(support, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a, name="Consent", due_hours=48)

    response = support.post(
        reverse("admin:forms_formtemplate_change", args=[template.pk]),
        _template_form(template, name="  Consent form  ", due_hours=24),
    )

    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.due_hours, template.version) == ("Consent form", 24, 1)


def test_an_archived_template_is_read_only_and_cannot_be_made_active(support, workspace_a):
    template = FormTemplateFactory(
        workspace=workspace_a, name="Old", is_active=False, archived_at=timezone.now()
    )
    url = reverse("admin:forms_formtemplate_change", args=[template.pk])

    page = support.get(url)
    response = support.post(url, _template_form(template, is_active="on"))

    assert page.status_code == 200
    assert 'name="is_active"' not in page.content.decode()
    assert response.status_code == 403  # no change permission: not an IntegrityError
    template.refresh_from_db()
    assert template.is_active is False
