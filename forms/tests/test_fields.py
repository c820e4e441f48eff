"""The field definitions every template's fields pass (forms/fields.py)."""

from __future__ import annotations

import pytest

from careops.errors import InvalidInput
from forms.fields import MAX_CHOICES, MAX_FIELDS, clean_field_definitions, slug_key
from forms.tests.factories import INTAKE_FIELDS


def errors_of(fields) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        clean_field_definitions(fields)
    return caught.value.fields


def text(label: str = "Notes", **changes) -> dict:
    return {"type": "text", "label": label, **changes}


def test_defaults_are_filled_in_so_stored_fields_carry_every_property():
    (field,) = clean_field_definitions([{"type": "date", "label": " Date of birth "}])

    assert field == {
        "key": "date_of_birth",
        "type": "date",
        "label": "Date of birth",
        "help_text": "",
        "required": False,
        "choices": [],
        "maps_to": "",
    }


def test_cleaning_clean_fields_changes_nothing():
    assert clean_field_definitions(INTAKE_FIELDS) == INTAKE_FIELDS


def test_keys_made_from_the_same_label_are_numbered():
    cleaned = clean_field_definitions([text("Notes"), text("Notes"), text("notes!")])

    assert [f["key"] for f in cleaned] == ["notes", "notes_2", "notes_3"]


def test_a_made_key_never_takes_a_key_given_later_in_the_list():
    cleaned = clean_field_definitions([text("Notes"), text("Other", key="notes")])

    assert [f["key"] for f in cleaned] == ["notes_2", "notes"]


def test_explicit_duplicate_keys_are_an_error_on_the_second():
    errors = errors_of([text(key="notes"), text("Other", key="notes")])

    assert errors == {"fields.1.key": ['Another field already uses the key "notes".']}


def test_a_numbered_key_stays_within_64_characters():
    label = "a" * 80
    cleaned = clean_field_definitions([text(label), text(label)])

    assert [len(f["key"]) for f in cleaned] == [64, 64]
    assert cleaned[1]["key"].endswith("_2")


@pytest.mark.parametrize(
    ("label", "key"),
    [("Date of birth", "date_of_birth"), ("2nd opinion?", "field_2nd_opinion"), ("!!!", "field")],
)
def test_keys_are_made_from_labels(label, key):
    assert slug_key(label) == key


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ([text(type="colour")], "fields.0.type"),
        ([text(type=["text"])], "fields.0.type"),
        ([text(type=None)], "fields.0.type"),
        ([{"type": "single_choice", "label": "Pick"}], "fields.0.choices"),
        ([{"type": "single_choice", "label": "Pick", "choices": "Yes"}], "fields.0.choices"),
        (
            [{"type": "single_choice", "label": "Pick", "choices": ["Yes", "Yes"]}],
            "fields.0.choices",
        ),
        (
            [{"type": "multiple_choice", "label": "P", "choices": ["x"] * (MAX_CHOICES + 1)}],
            "fields.0.choices",
        ),
        ([text(choices=["A"])], "fields.0.choices"),
        ([text(key="Has Space")], "fields.0.key"),
        ([text(key="9lives")], "fields.0.key"),
        ([text(key=["a"])], "fields.0.key"),
        ([text(label="")], "fields.0.label"),
        ([text(label="x" * 201)], "fields.0.label"),
        ([text(help_text="x" * 501)], "fields.0.help_text"),
        ([text(required="yes")], "fields.0.required"),
        ([text(maps_to="address")], "fields.0.maps_to"),
        ([text(maps_to="custom.")], "fields.0.maps_to"),
        ([{"type": "signature", "label": "Sign", "maps_to": "name"}], "fields.0.maps_to"),
        ([text(extra=1)], "fields.0"),
        (["not an object"], "fields.0"),
        ([text(f"Field {n}") for n in range(MAX_FIELDS + 1)], "fields"),
        ("not a list", "fields"),
    ],
)
def test_each_bad_property_is_named(fields, name):
    assert name in errors_of(fields)


def test_a_field_without_a_label_is_told_about_the_label_only():
    assert errors_of([{"type": "text"}]) == {"fields.0.label": ["Give the field a label."]}


def test_a_custom_contact_field_may_prefill():
    (field,) = clean_field_definitions([text(maps_to="custom.member_no")])

    assert field["maps_to"] == "custom.member_no"
