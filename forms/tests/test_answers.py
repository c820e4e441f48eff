"""A client's answers are checked against the form's fields, type by type."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from careops.errors import InvalidInput
from forms.answers import clean_answers, field_errors, sniff_content_type
from forms.fields import clean_field_definitions

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32


def one(field_type: str, **extra):
    return clean_field_definitions([{"key": "q", "type": field_type, "label": "Q", **extra}])


def ok(field_type: str, value, **extra):
    return clean_answers(one(field_type, **extra), {"q": value}).answers.get("q")


def problem(field_type: str, value, **extra) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one(field_type, **extra), {"q": value})
    return caught.value.fields["answers.q"]


# --- Text ---------------------------------------------------------------------------------------


def test_text_is_stripped_and_limited_to_1000_characters():
    assert ok("text", "  Ann Lee  ") == "Ann Lee"
    assert ok("text", "x" * 1000) == "x" * 1000
    assert problem("text", "x" * 1001) == ["At most 1000 characters."]


def test_long_text_is_limited_to_10000_characters():
    assert ok("long_text", "line one\nline two") == "line one\nline two"
    assert problem("long_text", "x" * 10001) == ["At most 10000 characters."]


def test_text_must_be_a_string_in_json():
    assert problem("text", {"a": 1}) == ["Must be text."]
    assert problem("text", 12) == ["Must be text."]


def test_an_empty_optional_answer_is_not_stored():
    assert clean_answers(one("text"), {"q": "   "}).answers == {}
    assert clean_answers(one("text"), {}).answers == {}


def test_a_required_field_must_be_answered():
    assert problem("text", "", required=True) == ["This field is required."]
    assert problem("email", None, required=True) == ["This field is required."]


# --- Email and phone ----------------------------------------------------------------------------


def test_email_is_normalized_like_contacts():
    assert ok("email", "  Ann@Example.ORG ") == "ann@example.org"


@pytest.mark.parametrize("value", ["ann", "ann@", "@example.org", "ann@example", "a b@example.org"])
def test_email_must_be_valid(value):
    assert problem("email", value) == ["Enter a valid email address, such as name@example.com."]


def test_phone_is_stored_in_e164():
    assert ok("phone", "+44 7700 900123") == "+447700900123"


def test_phone_must_be_valid():
    assert problem("phone", "not a phone") == [
        "Enter a valid phone number, such as +44 7700 900123."
    ]


# --- Numbers and dates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("42", "42"),
        (" -1.50 ", "-1.5"),
        ("1e2", "100"),
        ("0.000", "0"),
        ("-0", "0"),
        (7, "7"),
        (2.5, "2.5"),
    ],
)
def test_number_is_stored_as_the_exact_decimal_string(value, stored):
    assert ok("number", value) == stored


@pytest.mark.parametrize("value", ["abc", "1,5", "NaN", "Infinity", "-inf", "1e999999999", True])
def test_number_rejects_what_is_not_a_finite_number(value):
    assert problem("number", value)


def test_date_is_iso_yyyy_mm_dd():
    assert ok("date", "1990-02-28") == "1990-02-28"


@pytest.mark.parametrize("value", ["28/02/1990", "19900228", "1990-02-30", "1990-2-3", 19900228])
def test_date_rejects_other_shapes_and_impossible_days(value):
    assert problem("date", value)


# --- Choices ------------------------------------------------------------------------------------


def test_single_choice_must_be_one_of_the_choices():
    assert ok("single_choice", "Yes", choices=["Yes", "No"]) == "Yes"
    assert problem("single_choice", "Maybe", choices=["Yes", "No"]) == [
        "Choose one of the options."
    ]


def test_multiple_choice_is_a_subset_in_the_forms_order():
    choices = ["Back", "Neck", "Shoulders"]
    assert ok("multiple_choice", ["Shoulders", "Back", "Back"], choices=choices) == [
        "Back",
        "Shoulders",
    ]
    assert problem("multiple_choice", ["Back", "Knee"], choices=choices) == [
        '"Knee" is not one of the options.'
    ]
    assert problem("multiple_choice", [1], choices=choices) == ["Choose from the options."]


def test_multiple_choice_from_a_page_is_the_repeated_key():
    data = QueryDict("q=Neck&q=Back")
    fields = one("multiple_choice", choices=["Back", "Neck"])
    assert clean_answers(fields, data).answers == {"q": ["Back", "Neck"]}


def test_a_required_multiple_choice_needs_one_option():
    assert problem("multiple_choice", [], choices=["A"], required=True) == [
        "Choose at least one option."
    ]


# --- Checkbox and signature ---------------------------------------------------------------------


def test_a_checkbox_is_always_stored_as_a_boolean():
    assert ok("checkbox", True) is True
    assert ok("checkbox", None) is False
    assert clean_answers(one("checkbox"), QueryDict("q=on")).answers == {"q": True}
    assert clean_answers(one("checkbox"), QueryDict("")).answers == {"q": False}
    assert problem("checkbox", "perhaps") == ["Must be true or false."]


def test_a_required_checkbox_is_a_consent_that_must_be_ticked():
    assert problem("checkbox", False, required=True) == ["Tick this box to continue."]
    assert problem("checkbox", "false", required=True) == ["Tick this box to continue."]
    assert ok("checkbox", "true", required=True) is True


def test_a_signature_is_the_typed_full_name():
    cleaned = clean_answers(one("signature", required=True), {"q": "  Ann   Lee "})
    assert cleaned.answers == {"q": "Ann Lee"}
    assert cleaned.signature_name == "Ann Lee"
    assert problem("signature", "", required=True) == ["Type your full name to sign."]
    assert problem("signature", "A") == ["Type your full name to sign."]


# --- Files --------------------------------------------------------------------------------------


def upload(content: bytes, name="scan.pdf", claimed="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=claimed)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (HEIC, "image/heic"),
    ],
)
def test_a_file_is_judged_by_its_first_bytes(content, content_type):
    cleaned = clean_answers(one("file"), {}, {"q": upload(content, claimed="text/plain")})
    (checked,) = cleaned.uploads
    assert checked.content_type == content_type
    assert checked.size == len(content)
    assert checked.original_name == "scan.pdf"
    assert len(checked.sha256) == 64


def test_a_file_claiming_to_be_a_pdf_but_not_one_is_refused():
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one("file"), {}, {"q": upload(b"MZ\x90\x00 an executable")})
    assert caught.value.fields["answers.q"][0].startswith("This type of file is not accepted")


def test_a_type_left_out_of_the_settings_is_refused(settings):
    settings.FORM_UPLOAD_CONTENT_TYPES = ["application/pdf"]
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one("file"), {}, {"q": upload(PNG, "x.png", "image/png")})
    assert caught.value.fields["answers.q"] == ["This type of file is not accepted: use PDF."]


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.FORM_UPLOAD_MAX_BYTES = 1024 * 1024
    big = PDF + b"0" * (1024 * 1024)
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one("file"), {}, {"q": upload(big)})
    assert caught.value.fields["answers.q"] == ["The file is too large: at most 1 MB."]


def test_an_empty_file_is_refused_and_a_required_file_must_be_attached():
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one("file"), {}, {"q": upload(b"")})
    assert caught.value.fields["answers.q"] == ["The file is empty."]
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one("file", required=True), {"q": "a string is not a file"}, {})
    assert caught.value.fields["answers.q"] == ["Attach a file."]


def test_sniffing_knows_nothing_of_unknown_bytes():
    assert sniff_content_type(b"") is None
    assert sniff_content_type(b"GIF89a") is None


# --- The whole form -----------------------------------------------------------------------------


def test_every_error_is_reported_at_once_and_unknown_keys_are_ignored():
    fields = clean_field_definitions(
        [
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "email", "type": "email", "label": "Email"},
            {"key": "age", "type": "number", "label": "Age"},
        ]
    )
    with pytest.raises(InvalidInput) as caught:
        clean_answers(fields, {"email": "nope", "age": "old", "admin": True})
    assert set(caught.value.fields) == {"answers.name", "answers.email", "answers.age"}
    assert field_errors(caught.value)["age"] == ["Enter a number, such as 42 or 1.5."]

    cleaned = clean_answers(fields, {"name": "Ann", "is_staff": True})
    assert cleaned.answers == {"name": "Ann"}


def test_answers_that_are_not_an_object_are_refused():
    with pytest.raises(InvalidInput) as caught:
        clean_answers(one("text"), ["a"])
    assert caught.value.fields == {"answers": ["Give the answers as an object."]}


# --- Properties ---------------------------------------------------------------------------------


def _not_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@given(st.text(max_size=1200))
def test_text_answers_are_stored_stripped_or_refused_never_crash(value):
    try:
        stored = ok("text", value)
    except BaseException as exc:  # pytest.raises does not compose with hypothesis's retries
        assert isinstance(exc, InvalidInput)
        assert len(value.strip()) > 1000 or "\x00" in value or _not_utf8(value)
        return
    assert stored == (value.strip() or None)


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12
    )
)
def test_every_finite_decimal_round_trips_exactly(number):
    from decimal import Decimal

    assert Decimal(ok("number", str(number))) == number


@given(st.one_of(st.text(max_size=50), st.integers(), st.floats(), st.booleans(), st.none()))
def test_a_number_answer_is_a_decimal_string_or_a_clear_error(value):
    from decimal import Decimal

    try:
        stored = ok("number", value)
    except InvalidInput as exc:
        assert exc.fields["answers.q"]
        return
    if stored is not None:
        assert Decimal(stored).is_finite()
