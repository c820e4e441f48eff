"""The form templates API: owners design forms, staff read them, outsiders see nothing; field
definitions are refused with a message naming the field and property (`fields.2.choices`)."""

from __future__ import annotations

import pytest

from bookings.tests.factories import BookingTypeFactory
from forms.fields import MAX_FIELDS
from forms.models import FormTemplate
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/forms/templates"


def detail(template) -> str:
    return f"{URL}/{template.pk}"


def text_field(label: str = "Notes", **changes) -> dict:
    return {"type": "text", "label": label, **changes}


def field_errors(response) -> dict[str, str]:
    return {name: errors[0]["message"] for name, errors in response.json()["fields"].items()}


# --- Create -------------------------------------------------------------------------------------


def test_an_owner_creates_a_form_with_its_fields_and_services(owner_api, workspace_a):
    massage = BookingTypeFactory(workspace=workspace_a, name="Massage")

    response = owner_api.post(
        URL,
        {
            "name": "New client intake",
            "description": "Before your first visit.",
            "due_hours": 24,
            "booking_type_ids": [massage.pk],
            "fields": [
                {"type": "text", "label": "Full name", "required": True, "maps_to": "name"},
                {"type": "single_choice", "label": "First visit?", "choices": ["Yes", "No"]},
                {"type": "signature", "label": "Signature", "key": "sig"},
            ],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    assert body["is_active"] is True
    assert body["archived_at"] is None
    assert body["due_hours"] == 24
    assert body["submission_count"] == 0
    assert body["booking_types"] == [{"id": massage.pk, "name": "Massage"}]
    assert "booking_type_ids" not in body
    assert body["fields"][0] == {
        "key": "full_name",
        "type": "text",
        "label": "Full name",
        "help_text": "",
        "required": True,
        "choices": [],
        "maps_to": "name",
    }
    assert [f["key"] for f in body["fields"]] == ["full_name", "first_visit", "sig"]
    template = FormTemplate.objects.for_workspace(workspace_a).get()
    assert template.fields == body["fields"]
    assert list(template.booking_types.all()) == [massage]


def test_two_fields_with_the_same_label_get_numbered_keys(owner_api):
    response = owner_api.post(
        URL, {"name": "Notes", "fields": [text_field("Notes"), text_field("Notes")]}, format="json"
    )

    assert response.status_code == 201
    assert [f["key"] for f in response.json()["fields"]] == ["notes", "notes_2"]


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        ([text_field(type="colour")], "fields.0.type", "Choose one of"),
        (
            [text_field(), {"type": "single_choice", "label": "Pick", "choices": []}],
            "fields.1.choices",
            "at least one choice",
        ),
        (
            [text_field(key="notes"), text_field("Other", key="notes")],
            "fields.1.key",
            'already uses the key "notes"',
        ),
        ([text_field(key="Bad Key")], "fields.0.key", "lower-case letters"),
        ([text_field(choices=["A", "B"])], "fields.0.choices", "Only choice fields"),
        ([text_field(maps_to="address")], "fields.0.maps_to", "custom.<key>"),
        ([{"type": "file", "label": "Scan", "maps_to": "email"}], "fields.0.maps_to", "cannot"),
        ([text_field(label="")], "fields.0.label", "Give the field a label"),
        ([text_field(colour="red")], "fields.0", "Unknown properties: colour"),
        ([text_field(type=["text"])], "fields.0.type", "Choose one of"),
        ([text_field(f"Field {n}") for n in range(MAX_FIELDS + 1)], "fields", "at most"),
        ({"not": "a list"}, "fields", "list of fields"),
    ],
)
def test_bad_field_definitions_are_refused_naming_the_field_and_property(
    owner_api, workspace_a, fields, name, message
):
    response = owner_api.post(URL, {"name": "Intake", "fields": fields}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert message in field_errors(response)[name]
    assert not FormTemplate.objects.for_workspace(workspace_a).exists()


def test_every_problem_is_named_in_one_answer(owner_api):
    response = owner_api.post(
        URL,
        {
            "name": "Intake",
            "fields": [text_field(), text_field("Colour", type="colour"), {"type": "date"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(field_errors(response)) == {"fields.1.type", "fields.2.label"}


def test_a_live_forms_name_is_taken_whatever_its_case(owner_api, workspace_a, workspace_b):
    FormTemplateFactory(workspace=workspace_a, name="Intake")
    FormTemplateFactory(workspace=workspace_b, name="Consent")

    taken = owner_api.post(URL, {"name": "INTAKE"}, format="json")
    elsewhere = owner_api.post(URL, {"name": "Consent"}, format="json")

    assert taken.status_code == 400
    assert field_errors(taken) == {"name": "Another form has this name."}
    assert elsewhere.status_code == 201


def test_an_archived_forms_name_may_be_used_again(owner_api, workspace_a):
    old = FormTemplateFactory(workspace=workspace_a, name="Intake")
    owner_api.post(f"{detail(old)}/archive")

    response = owner_api.post(URL, {"name": "Intake"}, format="json")

    assert response.status_code == 201


def test_booking_types_of_another_workspace_are_refused(owner_api, workspace_a, workspace_b):
    theirs = BookingTypeFactory(workspace=workspace_b)

    response = owner_api.post(
        URL, {"name": "Intake", "booking_type_ids": [theirs.pk]}, format="json"
    )

    assert response.status_code == 400
    assert field_errors(response) == {
        "booking_type_ids": f"Not a service of this workspace: {theirs.pk}."
    }
    assert not FormTemplate.objects.exists()


# --- Read ---------------------------------------------------------------------------------------


def test_the_list_shows_live_forms_by_name_and_archived_ones_on_request(
    staff_api, workspace_a, workspace_b
):
    FormTemplateFactory(workspace=workspace_a, name="Consent")
    FormTemplateFactory(
        workspace=workspace_a, name="Aftercare", archived_at="2030-01-01T00:00Z", is_active=False
    )
    FormTemplateFactory(workspace=workspace_a, name="Intake")
    FormTemplateFactory(workspace=workspace_b, name="Bravo's form")

    live = staff_api.get(URL)
    everything = staff_api.get(URL, {"include_archived": "true"})

    assert live.status_code == 200
    assert [t["name"] for t in live.json()["results"]] == ["Consent", "Intake"]
    assert [t["name"] for t in everything.json()["results"]] == ["Consent", "Intake", "Aftercare"]


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_takes_the_same_queries_for_3_or_30_forms(
    owner_api, workspace_a, count, django_assert_max_num_queries
):
    kinds = [BookingTypeFactory(workspace=workspace_a) for _ in range(2)]
    for _ in range(count):
        template = FormTemplateFactory(workspace=workspace_a, booking_types=kinds)
        FormSubmissionFactory(workspace=workspace_a, template=template)

    # 5 queries: the token's user, the membership (workspace joined), the count, the page
    # (submission counts annotated), the booking types (prefetched)
    with django_assert_max_num_queries(5):
        response = owner_api.get(URL)

    assert response.status_code == 200
    assert len(response.json()["results"]) == count
    assert {t["submission_count"] for t in response.json()["results"]} == {1}


def test_staff_read_a_form(staff_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)

    response = staff_api.get(detail(template))

    assert response.status_code == 200
    assert response.json()["fields"] == template.fields


# --- Update -------------------------------------------------------------------------------------


def test_changing_the_fields_bumps_the_version(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)

    response = owner_api.patch(
        detail(template), {"fields": [*template.fields, text_field("Goals")]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["fields"][-1]["key"] == "goals"
    template.refresh_from_db()
    assert template.version == 2


def test_changing_only_the_name_keeps_the_version(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)

    response = owner_api.patch(detail(template), {"name": "Renamed"}, format="json")

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["version"]) == ("Renamed", 1)


def test_editing_a_template_keeps_sent_snapshots(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)
    sent = FormSubmissionFactory(workspace=workspace_a, template=template)
    snapshot = [dict(f) for f in sent.fields]

    response = owner_api.patch(
        detail(template), {"name": "Intake v2", "fields": [text_field("Only this")]}, format="json"
    )

    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.fields == snapshot
    assert (sent.template_version, sent.template_name) == (1, template.name)


def test_a_bad_field_in_an_update_changes_nothing(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")
    fields = [dict(f) for f in template.fields]
    fields[6]["choices"] = []

    response = owner_api.patch(detail(template), {"name": "New", "fields": fields}, format="json")

    assert response.status_code == 400
    assert field_errors(response) == {"fields.6.choices": "Give at least one choice."}
    template.refresh_from_db()
    assert (template.name, template.version) == ("Intake", 1)


def test_an_owner_sets_the_services_that_send_a_form(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)
    old, new = BookingTypeFactory(workspace=workspace_a), BookingTypeFactory(workspace=workspace_a)
    template.booking_types.set([old])

    response = owner_api.patch(detail(template), {"booking_type_ids": [new.pk]}, format="json")

    assert response.status_code == 200
    assert [t["id"] for t in response.json()["booking_types"]] == [new.pk]


def test_an_archived_form_cannot_be_changed(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)
    owner_api.post(f"{detail(template)}/archive")

    response = owner_api.patch(detail(template), {"name": "Back"}, format="json")

    assert response.status_code == 409


# --- Archive ------------------------------------------------------------------------------------


def test_archiving_hides_a_form_from_the_list_and_is_idempotent(owner_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a)
    FormSubmissionFactory(workspace=workspace_a, template=template)

    first = owner_api.post(f"{detail(template)}/archive")
    second = owner_api.post(f"{detail(template)}/archive")

    assert first.status_code == second.status_code == 200
    assert first.json()["is_active"] is False
    assert first.json()["archived_at"] == second.json()["archived_at"] is not None
    assert owner_api.get(URL).json()["results"] == []
    assert owner_api.get(detail(template)).json()["submission_count"] == 1


# --- Who may -----------------------------------------------------------------------------------


def test_staff_may_not_create_change_or_archive_forms(staff_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")

    created = staff_api.post(URL, {"name": "Mine"}, format="json")
    changed = staff_api.patch(detail(template), {"name": "Theirs"}, format="json")
    archived = staff_api.post(f"{detail(template)}/archive")

    assert (created.status_code, changed.status_code, archived.status_code) == (403, 403, 403)
    template.refresh_from_db()
    assert (template.name, template.archived_at) == ("Intake", None)
    assert FormTemplate.objects.count() == 1


def test_an_outsider_gets_404_for_another_workspaces_form(outsider_api, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")

    read = outsider_api.get(detail(template))
    changed = outsider_api.patch(detail(template), {"name": "Mine"}, format="json")
    archived = outsider_api.post(f"{detail(template)}/archive")
    listed = outsider_api.get(URL)

    assert (read.status_code, changed.status_code, archived.status_code) == (404, 404, 404)
    assert read.json()["code"] == "not_found"
    assert listed.json()["results"] == []
    template.refresh_from_db()
    assert (template.name, template.archived_at) == ("Intake", None)


def test_signed_out_callers_get_401(anon_api):
    assert anon_api.get(URL).status_code == 401
