"""The builder changes one field at a time through services that lock the template and apply the
change to its fields as stored: two people designing the same form at once lose nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from careops.errors import Conflict, InvalidInput, NotFound
from forms.fields import BAD_CHARACTERS
from forms.models import FormTemplate
from forms.services import (
    template_archive,
    template_create,
    template_field_add,
    template_field_move,
    template_field_remove,
    template_field_update,
)
from tests.concurrency import race


def text(label: str, **more) -> dict:
    return {"type": "text", "label": label, **more}


@pytest.fixture
def template(workspace_a, owner):
    return template_create(
        workspace=workspace_a, actor=owner, name="Intake", fields=[text("Name"), text("Email")]
    )


def keys(template: FormTemplate) -> list[str]:
    template.refresh_from_db()
    return [field["key"] for field in template.fields]


@pytest.mark.django_db(transaction=True)
def test_two_fields_added_at_the_same_time_are_both_kept(workspace_a, owner):
    template = template_create(workspace=workspace_a, actor=owner, name="Intake", fields=[])
    # Each request read the template before either saved: the stale copies the builder had.
    stale = [FormTemplate.objects.get(pk=template.pk) for _ in range(2)]

    _results, errors = race(
        lambda i: template_field_add(
            template=stale[i], actor=owner, definition=text(f"Question {i}")
        ),
        2,
    )

    assert errors == []
    assert sorted(keys(template)) == ["question_0", "question_1"]
    assert FormTemplate.objects.get(pk=template.pk).version == 3  # two changes, two versions


def test_an_added_field_gets_its_key_from_its_label(template, owner):
    template, field = template_field_add(template=template, actor=owner, definition=text("Name"))

    assert field["key"] == "name_2"
    assert keys(template) == ["name", "email", "name_2"]


def test_a_refused_field_is_named_field_not_its_index(template, owner):
    with pytest.raises(InvalidInput) as caught:
        template_field_add(template=template, actor=owner, definition=text("Bad\x00"))

    assert caught.value.fields == {"field.label": [BAD_CHARACTERS]}
    assert keys(template) == ["name", "email"]


def test_a_field_is_updated_in_place_on_the_stored_fields(template, owner):
    stale = FormTemplate.objects.get(pk=template.pk)
    template_field_add(template=template, actor=owner, definition=text("Phone"))

    stale, field = template_field_update(
        template=stale, actor=owner, key="name", definition=text("Full name", key="name")
    )

    assert field["label"] == "Full name"
    assert keys(template) == ["name", "email", "phone"]  # the phone added meanwhile is kept


def test_removing_and_moving_apply_to_the_stored_fields(template, owner):
    template, removed = template_field_remove(template=template, actor=owner, key="name")
    assert removed["label"] == "Name"
    template_field_add(template=template, actor=owner, definition=text("Phone"))

    template, moved = template_field_move(
        template=template, actor=owner, key="phone", direction="up"
    )
    assert moved
    assert keys(template) == ["phone", "email"]

    template, moved = template_field_move(
        template=template, actor=owner, key="phone", direction="up"
    )
    assert not moved  # at the top already: nothing moves, nothing is saved


def test_a_field_removed_meanwhile_is_not_found(template, owner):
    stale = FormTemplate.objects.get(pk=template.pk)
    template_field_remove(template=template, actor=owner, key="email")

    with pytest.raises(NotFound):
        template_field_update(template=stale, actor=owner, key="email", definition=text("Mail"))


def test_an_archived_templates_fields_cannot_change(template, owner):
    template_archive(template=template, actor=owner)

    with pytest.raises(Conflict):
        template_field_add(template=template, actor=owner, definition=text("Late"))


def test_the_builder_page_adds_a_field_through_the_service(owner_client, template):
    response = owner_client.post(
        reverse("form-template-field-add", args=[template.pk]),
        {"add-type": "text", "add-label": "Phone"},
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#field-phone")
    assert keys(template) == ["name", "email", "phone"]


def test_the_builder_page_shows_a_refused_field_on_its_input(owner_client, template):
    response = owner_client.post(
        reverse("form-template-field-add", args=[template.pk]),
        {"add-type": "single_choice", "add-label": "Pick"},
    )

    assert response.status_code == 400
    assert "Give at least one choice." in response.context["add_form"].errors["choices"]
