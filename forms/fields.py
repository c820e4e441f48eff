"""The shape of a form's fields, and the check every template's fields pass before being saved.

A template's `fields` (and a submission's snapshot of them) is an ordered list of dicts:

    {
        "key": "allergies",          # [a-z][a-z0-9_]{0,63}, unique in the form
        "type": "long_text",         # one of FIELD_TYPES
        "label": "Any allergies?",   # 1-200 characters
        "help_text": "",             # up to 500 characters
        "required": False,
        "choices": [],               # single_choice / multiple_choice only: 1-50 unique labels
        "maps_to": "",               # prefill from the contact: "", "name", "email", "phone",
                                     # or "custom.<key>" (a contact custom field)
    }

clean_field_definitions() fills in the defaults, so stored definitions always carry every key.
"""

from __future__ import annotations

import re
from typing import Any

from careops.errors import InvalidInput

TEXT = "text"
LONG_TEXT = "long_text"
EMAIL = "email"
PHONE = "phone"
NUMBER = "number"
DATE = "date"
SINGLE_CHOICE = "single_choice"
MULTIPLE_CHOICE = "multiple_choice"
CHECKBOX = "checkbox"  # a yes/no, or a consent when required (must be ticked)
FILE = "file"
SIGNATURE = "signature"  # the client types their name; the submission records the signature

FIELD_TYPES: dict[str, str] = {
    TEXT: "Short text",
    LONG_TEXT: "Long text",
    EMAIL: "Email",
    PHONE: "Phone",
    NUMBER: "Number",
    DATE: "Date",
    SINGLE_CHOICE: "Single choice",
    MULTIPLE_CHOICE: "Multiple choice",
    CHECKBOX: "Checkbox / consent",
    FILE: "File upload",
    SIGNATURE: "Signature",
}
CHOICE_TYPES = frozenset({SINGLE_CHOICE, MULTIPLE_CHOICE})
CONTACT_FIELDS = ("name", "email", "phone")

MAX_FIELDS = 100
MAX_CHOICES = 50
# The public API reads at most this many files' worth of body before knowing the form
# (forms/intake.py): a form asks for no more.
MAX_FILE_FIELDS = 10
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")  # \Z: "$" would allow a final newline
_ALLOWED_KEYS = frozenset({"key", "type", "label", "help_text", "required", "choices", "maps_to"})


def slug_key(label: str) -> str:
    """A field key made from its label: "Date of birth" -> "date_of_birth"."""
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:64]
    if not key or not key[0].isalpha():
        key = f"field_{key}"[:64].rstrip("_")
    return key


BAD_CHARACTERS = "Remove the invisible control characters from this text."


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store `value`, or None: a NUL character (text columns and
    JSONB refuse it) or a lone surrogate (not encodable as UTF-8, which JSON from a client can
    carry: "\\ud800")."""
    if "\x00" in value:
        return BAD_CHARACTERS
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return BAD_CHARACTERS
    return None


def _text(value: Any, limit: int) -> tuple[str, str | None]:
    if value is None:
        return "", None
    if not isinstance(value, str):
        return "", "Must be text."
    problem = text_problem(value)
    if problem:
        return "", problem
    value = value.strip()
    if len(value) > limit:
        return value, f"At most {limit} characters."
    return value, None


def _clean_one(raw: Any, errors: dict[str, list[str]], prefix: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors[prefix] = ["Each field must be an object."]
        return None
    unknown = sorted(str(name) for name in set(raw) - _ALLOWED_KEYS)
    if unknown:
        errors[prefix] = [f"Unknown properties: {', '.join(unknown)}."]
    field_type = raw.get("type")
    # Not a string (a list, a number): unhashable or meaningless, and never a known type.
    if not isinstance(field_type, str) or field_type not in FIELD_TYPES:
        errors[f"{prefix}.type"] = [f"Choose one of: {', '.join(FIELD_TYPES)}."]
        field_type = None
    label, problem = _text(raw.get("label"), 200)
    if problem or not label:
        errors[f"{prefix}.label"] = [problem or "Give the field a label."]
    help_text, problem = _text(raw.get("help_text"), 500)
    if problem:
        errors[f"{prefix}.help_text"] = [problem]
    key = raw.get("key")
    if isinstance(key, str):
        # A key that is not plain text fails KEY_PATTERN: never echo it back.
        key = key.strip() if text_problem(key) is None else "-"
    if key in (None, ""):
        # Made from the label (numbered if taken, by clean_field_definitions); without a label
        # the label's message says what to do.
        key = slug_key(label) if label else None
    elif not isinstance(key, str) or not KEY_PATTERN.match(key):
        errors[f"{prefix}.key"] = [
            "Use 1-64 lower-case letters, digits and underscores, starting with a letter."
        ]
    required = raw.get("required", False)
    if not isinstance(required, bool):
        errors[f"{prefix}.required"] = ["Must be true or false."]
    choices = raw.get("choices") or []
    cleaned_choices: list[str] = []
    if field_type in CHOICE_TYPES:
        if not isinstance(choices, list):
            errors[f"{prefix}.choices"] = ["Give the choices as a list of labels."]
        elif not choices:
            errors[f"{prefix}.choices"] = ["Give at least one choice."]
        elif len(choices) > MAX_CHOICES:
            errors[f"{prefix}.choices"] = [f"At most {MAX_CHOICES} choices."]
        else:
            for choice in choices:
                text, problem = _text(choice, 200)
                if problem == BAD_CHARACTERS:
                    errors[f"{prefix}.choices"] = [problem]
                    break
                if problem or not text:
                    errors[f"{prefix}.choices"] = ["Each choice must be 1-200 characters of text."]
                    break
                if text in cleaned_choices:
                    errors[f"{prefix}.choices"] = [f'"{text}" is listed twice.']
                    break
                cleaned_choices.append(text)
    elif choices:
        errors[f"{prefix}.choices"] = ["Only choice fields have choices."]
    maps_to = raw.get("maps_to") or ""
    if not isinstance(maps_to, str) or not (
        maps_to in ("", *CONTACT_FIELDS)
        or (maps_to.startswith("custom.") and KEY_PATTERN.match(maps_to[7:] or "-"))
    ):
        errors[f"{prefix}.maps_to"] = [
            'Leave empty, or use "name", "email", "phone" or "custom.<key>".'
        ]
    elif maps_to and field_type in (FILE, SIGNATURE, CHECKBOX):
        errors[f"{prefix}.maps_to"] = ["This type of field cannot be prefilled."]
    return {
        "key": key,
        "type": field_type,
        "label": label,
        "help_text": help_text,
        "required": required,
        "choices": cleaned_choices,
        "maps_to": maps_to,
    }


def _unique_key(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... (kept within 64 characters): the first one not taken."""
    key, n = base, 1
    while key in taken:
        n += 1
        suffix = f"_{n}"
        key = base[: 64 - len(suffix)] + suffix
    return key


def clean_field_definitions(raw: Any) -> list[dict[str, Any]]:
    """The fields as stored, with defaults filled in; InvalidInput naming each bad property as
    `fields.<index>.<property>` (unknown types, empty choices, duplicate keys, ...).

    A field given without a key gets one made from its label; when another field already has
    that key (two fields labelled "Notes"), the made one gets a number: "notes_2". Two keys
    given explicitly and equal are an error: the caller chose them, so the caller decides.
    """
    if not isinstance(raw, list):
        raise InvalidInput(fields={"fields": ["Give a list of fields."]})
    if len(raw) > MAX_FIELDS:
        raise InvalidInput(fields={"fields": [f"A form has at most {MAX_FIELDS} fields."]})
    errors: dict[str, list[str]] = {}
    cleaned: list[tuple[int, dict[str, Any], bool]] = []
    for index, item in enumerate(raw):
        field = _clean_one(item, errors, f"fields.{index}")
        if field is not None:
            given = item.get("key")
            explicit = not (given is None or (isinstance(given, str) and not given.strip()))
            cleaned.append((index, field, explicit))
    # Explicit keys first, so that a made key never takes the key another field asked for.
    seen: set[str] = set()
    for index, field, explicit in cleaned:
        key = field["key"]
        if not explicit or not isinstance(key, str):
            continue
        if key in seen:
            errors.setdefault(f"fields.{index}.key", []).append(
                f'Another field already uses the key "{key}".'
            )
        seen.add(key)
    for _index, field, explicit in cleaned:
        if not explicit and isinstance(field["key"], str):
            field["key"] = _unique_key(field["key"], seen)
            seen.add(field["key"])
    if sum(1 for _index, field, _explicit in cleaned if field["type"] == FILE) > MAX_FILE_FIELDS:
        errors.setdefault("fields", []).append(
            f"A form has at most {MAX_FILE_FIELDS} file upload fields."
        )
    if errors:
        raise InvalidInput("Some fields of the form are not valid.", fields=errors)
    return [field for _index, field, _explicit in cleaned]
