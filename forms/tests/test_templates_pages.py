"""The form builder pages: every member sees the forms and their previews; owners create a form,
add, edit, reorder and remove its fields (plain posts and htmx), and archive it. Staff get 403
on the builder, another workspace's form is 404, and bad input shows the service's message."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from bookings.tests.factories import BookingTypeFactory
from forms.models import FormTemplate
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = "/forms/templates/"
NEW = "/forms/templates/new/"


def builder(template) -> str:
    return reverse("form-template-edit", args=[template.pk])


def field_url(template, key: str, action: str = "") -> str:
    name = f"form-template-field-{action}" if action else "form-template-field-edit"
    return reverse(name, args=[template.pk, key])


def add_url(template) -> str:
    return reverse("form-template-field-add", args=[template.pk])


def field_errors(response) -> dict[str, str]:
    html = response.content.decode()
    found = re.findall(r'<p class="error" id="id_([\w-]+)-error">([^<]*)</p>', html)
    return {name: unescape(message) for name, message in found}


def listing(response) -> str:
    """The list of forms alone (not the page's text or its flash messages)."""
    html = response.content.decode()
    marker = 'data-testid="form-templates"'
    return html.split(marker)[1] if marker in html else ""


def field_data(prefix: str, **changes) -> dict:
    data = {
        "type": "text",
        "label": "Goals",
        "key": "",
        "help_text": "",
        "choices": "",
        "maps_to": "",
    }
    data.update(changes)
    return {f"{prefix}-{k}": v for k, v in data.items() if v is not None}


def keys(template) -> list[str]:
    template.refresh_from_db()
    return [f["key"] for f in template.fields]


@pytest.fixture
def form(workspace_a):
    return FormTemplateFactory(
        workspace=workspace_a,
        name="Intake",
        fields=[
            {
                "key": "name",
                "type": "text",
                "label": "Name",
                "help_text": "",
                "required": True,
                "choices": [],
                "maps_to": "name",
            },
            {
                "key": "visit",
                "type": "single_choice",
                "label": "First visit?",
                "help_text": "",
                "required": False,
                "choices": ["Yes", "No"],
                "maps_to": "",
            },
            {
                "key": "notes",
                "type": "long_text",
                "label": "Notes",
                "help_text": "",
                "required": False,
                "choices": [],
                "maps_to": "",
            },
        ],
    )


# --- The list -----------------------------------------------------------------------------------


def test_owners_see_their_forms_with_new_and_edit(owner_client, workspace_a, workspace_b, form):
    FormTemplateFactory(workspace=workspace_b, name="Bravo's form")

    response = owner_client.get(LIST)

    assert response.status_code == 200
    forms = listing(response)
    assert "Intake" in forms
    assert "3 fields · version 1 · 0 sent" in forms
    assert "Bravo" not in forms
    assert f'href="{builder(form)}"' in forms
    assert NEW in response.content.decode()


def test_staff_see_the_forms_but_no_new_or_edit(staff_client, form):
    response = staff_client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Intake" in html
    assert NEW not in html
    assert f'href="{builder(form)}"' not in html
    assert reverse("form-template-preview", args=[form.pk]) in html


def test_archived_forms_are_listed_only_on_request(owner_client, workspace_a, form):
    FormTemplateFactory(workspace=workspace_a, name="Old consent")
    owner_client.post(
        reverse("form-template-archive", args=[FormTemplate.objects.get(name="Old consent").pk])
    )

    live = listing(owner_client.get(LIST))
    everything = listing(owner_client.get(LIST, {"archived": "1"}))

    assert "Old consent" not in live
    assert "Old consent" in everything


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_renders_in_constant_queries(
    owner_client, workspace_a, count, django_assert_max_num_queries
):
    kinds = [BookingTypeFactory(workspace=workspace_a) for _ in range(2)]
    for _ in range(count):
        template = FormTemplateFactory(workspace=workspace_a, booking_types=kinds)
        FormSubmissionFactory(workspace=workspace_a, template=template)
    owner_client.get(LIST)

    # 6 queries: session, user, membership (workspace joined), the forms (submission counts
    # annotated), their booking types (prefetched), the workspace switcher
    with django_assert_max_num_queries(6):
        response = owner_client.get(LIST)

    assert response.status_code == 200


# --- Creating a form ----------------------------------------------------------------------------


def test_an_owner_creates_a_form_and_lands_on_its_builder(owner_client, workspace_a):
    massage = BookingTypeFactory(workspace=workspace_a, name="Massage")

    response = owner_client.post(
        NEW,
        {
            "name": "New client intake",
            "description": "",
            "due_hours": 24,
            "is_active": "on",
            "booking_types": [massage.pk],
        },
    )

    template = FormTemplate.objects.for_workspace(workspace_a).get()
    assert response.status_code == 302
    assert response.url == builder(template)
    assert (template.name, template.due_hours, template.fields) == ("New client intake", 24, [])
    assert list(template.booking_types.all()) == [massage]


def test_a_taken_name_shows_the_message_on_the_name(owner_client, form):
    response = owner_client.post(NEW, {"name": "intake", "due_hours": 48})

    assert response.status_code == 400
    assert field_errors(response) == {"name": "Another form has this name."}
    assert FormTemplate.objects.count() == 1


def test_the_details_are_saved_through_the_builder(owner_client, workspace_a, form):
    kind = BookingTypeFactory(workspace=workspace_a)

    response = owner_client.post(
        builder(form),
        {"name": "Intake v2", "description": "Please", "due_hours": 12, "booking_types": [kind.pk]},
    )

    assert response.status_code == 302
    form.refresh_from_db()
    assert (form.name, form.due_hours, form.is_active, form.version) == ("Intake v2", 12, False, 1)
    assert list(form.booking_types.all()) == [kind]


def test_out_of_range_due_hours_show_the_message(owner_client, form):
    response = owner_client.post(builder(form), {"name": "Intake", "due_hours": 0})

    assert response.status_code == 400
    assert field_errors(response) == {"due_hours": "Between 1 and 8760 hours (a year)."}


# --- Fields -------------------------------------------------------------------------------------


def test_an_owner_adds_a_field_with_its_choices(owner_client, form):
    response = owner_client.post(
        add_url(form),
        field_data(
            "add", type="multiple_choice", label="Areas", choices="Back\n\nNeck\n", required="on"
        ),
    )

    assert response.status_code == 302
    assert response.url == f"{builder(form)}#field-areas"
    form.refresh_from_db()
    assert form.fields[-1] == {
        "key": "areas",
        "type": "multiple_choice",
        "label": "Areas",
        "help_text": "",
        "required": True,
        "choices": ["Back", "Neck"],
        "maps_to": "",
    }
    assert form.version == 2


def test_adding_a_field_with_htmx_returns_the_new_list(owner_client, form):
    response = owner_client.post(add_url(form), field_data("add", label="Goals"), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="builder-fields"')
    assert 'id="field-goals"' in html
    assert "“Goals” is added." in html
    assert "Version 2" in html


def test_a_second_field_with_the_same_label_gets_a_numbered_key(owner_client, form):
    owner_client.post(add_url(form), field_data("add", label="Notes"))

    assert keys(form) == ["name", "visit", "notes", "notes_2"]


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"type": "single_choice", "label": "Pick"}, {"add-choices": "Give at least one choice."}),
        ({"label": ""}, {"add-label": "Give the field a label."}),
        ({"key": "notes"}, {"add-key": 'Another field already uses the key "notes".'}),
        ({"choices": "A\nB"}, {"add-choices": "Only choice fields have choices."}),
        (
            {"type": "file", "maps_to": "email"},
            {"add-maps_to": "This type of field cannot be prefilled."},
        ),
    ],
)
def test_a_bad_field_shows_the_message_on_its_input(owner_client, form, data, errors):
    response = owner_client.post(add_url(form), field_data("add", **data))

    assert response.status_code == 400
    assert field_errors(response) == errors
    assert keys(form) == ["name", "visit", "notes"]


def test_a_bad_field_with_htmx_comes_back_in_the_list_with_its_message(owner_client, form):
    response = owner_client.post(
        add_url(form), field_data("add", type="single_choice", label="Pick"), **HTMX
    )

    assert response.status_code == 400
    assert response.content.decode().lstrip().startswith('<div id="builder-fields"')
    assert field_errors(response) == {"add-choices": "Give at least one choice."}


def test_an_owner_opens_a_fields_editor_and_saves_it(owner_client, form):
    editor = owner_client.get(builder(form), {"edit": "visit"}, **HTMX)
    saved = owner_client.post(
        field_url(form, "visit"),
        field_data(
            "edit",
            type="single_choice",
            label="Been here before?",
            key="visit",
            choices="Yes\nNo\nNot sure",
            help_text="Any branch counts.",
        ),
    )

    assert editor.status_code == 200
    assert 'data-testid="field-editor"' in editor.content.decode()
    assert 'value="First visit?"' in editor.content.decode()
    assert saved.status_code == 302
    form.refresh_from_db()
    assert form.fields[1]["label"] == "Been here before?"
    assert form.fields[1]["choices"] == ["Yes", "No", "Not sure"]
    assert form.fields[1]["help_text"] == "Any branch counts."
    assert form.version == 2


def test_a_bad_edit_keeps_the_editor_open_with_the_message(owner_client, form):
    response = owner_client.post(
        field_url(form, "visit"),
        field_data("edit", type="single_choice", label="First visit?", key="visit", choices=""),
    )

    assert response.status_code == 400
    assert 'data-testid="field-editor"' in response.content.decode()
    assert field_errors(response) == {"edit-choices": "Give at least one choice."}
    form.refresh_from_db()
    assert form.fields[1]["choices"] == ["Yes", "No"]


def test_an_owner_moves_fields_up_and_down(owner_client, form):
    down = owner_client.post(field_url(form, "name", "move"), {"direction": "down"})
    assert keys(form) == ["visit", "name", "notes"]
    up = owner_client.post(field_url(form, "notes", "move"), {"direction": "up"}, **HTMX)

    assert down.status_code == 302
    assert up.status_code == 200
    assert keys(form) == ["visit", "notes", "name"]
    assert form.version == 3


def test_moving_the_first_field_up_changes_nothing(owner_client, form):
    response = owner_client.post(field_url(form, "name", "move"), {"direction": "up"})

    assert response.status_code == 302
    assert keys(form) == ["name", "visit", "notes"]
    assert form.version == 1


def test_an_owner_removes_a_field(owner_client, form):
    response = owner_client.post(field_url(form, "visit", "remove"))

    assert response.status_code == 302
    assert keys(form) == ["name", "notes"]


def test_a_field_no_longer_in_the_form_is_404(owner_client, form):
    response = owner_client.post(field_url(form, "shoe_size", "remove"))

    assert response.status_code == 404


def test_editing_a_form_keeps_the_snapshots_already_sent(owner_client, workspace_a, form):
    sent = FormSubmissionFactory(workspace=workspace_a, template=form)
    snapshot = [dict(f) for f in sent.fields]

    owner_client.post(field_url(form, "visit", "remove"))

    sent.refresh_from_db()
    assert sent.fields == snapshot
    assert sent.template_version == 1


# --- Preview and archive ------------------------------------------------------------------------


def test_the_preview_shows_the_form_as_a_client_sees_it(staff_client, form):
    response = staff_client.get(reverse("form-template-preview", args=[form.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "First visit?" in html
    assert 'name="notes"' in html
    assert "disabled" in html


def test_archiving_a_form_hides_its_editing(owner_client, form):
    response = owner_client.post(reverse("form-template-archive", args=[form.pk]))
    again = owner_client.post(reverse("form-template-archive", args=[form.pk]))
    page = owner_client.get(builder(form))
    refused = owner_client.post(add_url(form), field_data("add", label="Late"))

    assert (response.status_code, again.status_code) == (302, 302)
    form.refresh_from_db()
    assert form.archived_at is not None and not form.is_active
    assert 'data-testid="field-add"' not in page.content.decode()
    assert refused.status_code == 409
    assert "archived" in refused.content.decode()
    assert keys(form) == ["name", "visit", "notes"]


# --- Who may ------------------------------------------------------------------------------------


def test_staff_get_403_on_the_builder_and_its_writes(staff_client, form):
    responses = [
        staff_client.get(NEW),
        staff_client.post(NEW, {"name": "Mine", "due_hours": 48}),
        staff_client.get(builder(form)),
        staff_client.post(add_url(form), field_data("add")),
        staff_client.post(field_url(form, "name", "move"), {"direction": "down"}),
        staff_client.post(field_url(form, "name", "remove")),
        staff_client.post(reverse("form-template-archive", args=[form.pk])),
    ]

    assert [r.status_code for r in responses] == [403] * 7
    assert keys(form) == ["name", "visit", "notes"]
    assert FormTemplate.objects.count() == 1


def test_an_outsider_gets_404_for_another_workspaces_form(outsider_client, form):
    responses = [
        outsider_client.get(builder(form)),
        outsider_client.get(reverse("form-template-preview", args=[form.pk])),
        outsider_client.post(add_url(form), field_data("add")),
        outsider_client.post(field_url(form, "name", "remove")),
        outsider_client.post(reverse("form-template-archive", args=[form.pk])),
    ]

    assert [r.status_code for r in responses] == [404] * 5
    assert keys(form) == ["name", "visit", "notes"]
    assert "Intake" not in listing(outsider_client.get(LIST))
