"""A client's answers, checked against the fields of the form they were sent (forms/fields.py).

One function for the public page (a QueryDict, files in request.FILES) and the API (a JSON
object of answers, files as multipart parts): `clean_answers`.

How each type of answer is stored in FormSubmission.answers:

    text, long_text, signature    the text, stripped ("" answers are not stored)
    email                         lower-cased, valid (Django's EmailValidator)
    phone                         E.164 ("+447700900123")
    number                        a string holding the exact decimal ("42", "-1.5"): a JSON
                                  number would go through a float and lose digits
    date                          "YYYY-MM-DD"
    single_choice                 the chosen label
    multiple_choice               a list of labels, in the form's order (at least one)
    checkbox                      true or false (always stored: "no" is an answer)
    file                          the id of its FormUpload (set when the file is stored)

A field left empty is not stored, except a checkbox. Errors are keyed `answers.<field key>`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from careops.errors import InvalidInput
from contacts.models import normalize_email, normalize_phone
from forms import fields as f

ERROR_PREFIX = "answers."
TEXT_LIMITS = {f.TEXT: 1000, f.LONG_TEXT: 10000, f.SIGNATURE: 200}
NUMBER_MAX_CHARS = 40
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPACES = re.compile(r"\s+")

CONTENT_TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "image/heic": "HEIC",
}
# The brands of an ISO-BMFF "ftyp" box that mean a HEIF/HEIC image (iPhone photos).
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})


@dataclass(frozen=True)
class CheckedUpload:
    """A file that passed the checks, ready for the service to store."""

    field_key: str
    file: Any  # an UploadedFile (anything with read(), seek(), size and name)
    original_name: str
    content_type: str
    size: int
    sha256: str


@dataclass
class CleanedAnswers:
    answers: dict[str, Any] = field(default_factory=dict)
    uploads: list[CheckedUpload] = field(default_factory=list)
    # The typed name of the first signature field answered ("" when the form has none).
    signature_name: str = ""


def sniff_content_type(head: bytes) -> str | None:
    """The type a file's first bytes show it to be (whatever the client claims), or None."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return None


def allowed_types_text() -> str:
    names = [CONTENT_TYPE_NAMES.get(t, t) for t in settings.FORM_UPLOAD_CONTENT_TYPES]
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]


def upload_accept() -> str:
    """The accept= of a file input: the allowed types."""
    return ",".join(settings.FORM_UPLOAD_CONTENT_TYPES)


def _get(data: Mapping[str, Any], key: str, *, many: bool = False) -> Any:
    """One value (the last, for a repeated form key) or, with `many`, every value."""
    if hasattr(data, "getlist"):
        values = data.getlist(key)
        if many:
            return values
        return values[-1] if values else None
    value = data.get(key)
    if many:
        if value is None:
            return []
        return value if isinstance(value, list) else [value]
    return value


def _plain(value: str) -> None:
    """ValidationError for text PostgreSQL cannot store (a NUL) or that is not UTF-8 (a lone
    surrogate, which a JSON body can carry): clear 400s, never a 500 at the database."""
    problem = f.text_problem(value)
    if problem:
        raise ValidationError(problem)


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("Must be text.")
    _plain(value)
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"At most {limit} characters.")
    return value


def _email(value: Any) -> str:
    value = normalize_email(_text(value, 254))
    if value:
        EmailValidator(message="Enter a valid email address, such as name@example.com.")(value)
    return value


def _phone(value: Any) -> str:
    return normalize_phone(_text(value, 40))


def _number(value: Any) -> str:
    if value is None or isinstance(value, bool):
        if value is None:
            return ""
        raise ValidationError("Enter a number.")
    if isinstance(value, int | float):
        value = str(value)
    text = _text(value, NUMBER_MAX_CHARS)
    if not text:
        return ""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError("Enter a number, such as 42 or 1.5.") from None
    if not number.is_finite():
        raise ValidationError("Enter a number, such as 42 or 1.5.")
    # Bounded before formatting: "1e999999999" would otherwise become a billion digits.
    if number and not -NUMBER_MAX_CHARS < number.adjusted() < NUMBER_MAX_CHARS:
        raise ValidationError("That number is too long.")
    # "1E+2" -> "100"; "1.50" -> "1.5"; "-0" -> "0". format() of the Decimal itself: exact
    # (normalize() would round to the context's 28 significant digits).
    normalized = format(number, "f")
    if "." in normalized:
        normalized = normalized.rstrip("0").rstrip(".")
    if len(normalized) > NUMBER_MAX_CHARS:
        raise ValidationError("That number is too long.")
    return "0" if normalized in ("-0", "") else normalized


def _date(value: Any) -> str:
    text = _text(value, 10)
    if not text:
        return ""
    if not _DATE.match(text):
        raise ValidationError("Enter a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValidationError("Enter a real date, as YYYY-MM-DD.") from None


def _single_choice(value: Any, choices: list[str]) -> str:
    text = _text(value, 200)
    if text and text not in choices:
        raise ValidationError("Choose one of the options.")
    return text


def _multiple_choice(values: list[Any], choices: list[str]) -> list[str]:
    picked = set()
    for value in values:
        if not isinstance(value, str):
            raise ValidationError("Choose from the options.")
        _plain(value)  # before the message below quotes it
        value = value.strip()
        if not value:
            continue
        if value not in choices:
            raise ValidationError(f'"{value[:60]}" is not one of the options.')
        picked.add(value)
    return [choice for choice in choices if choice in picked]


def _checkbox(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValidationError("Must be true or false.")


def _upload(key: str, upload: Any) -> CheckedUpload | None:
    if upload is None or isinstance(upload, str):
        return None
    size = getattr(upload, "size", None) or 0
    if size == 0:
        raise ValidationError("The file is empty.")
    limit = settings.FORM_UPLOAD_MAX_BYTES
    if size > limit:
        raise ValidationError(f"The file is too large: at most {file_size_text(limit)}.")
    upload.seek(0)
    head = upload.read(16)
    content_type = sniff_content_type(head)
    if content_type is None or content_type not in settings.FORM_UPLOAD_CONTENT_TYPES:
        raise ValidationError(f"This type of file is not accepted: use {allowed_types_text()}.")
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
        digest.update(chunk)
    upload.seek(0)
    name = (getattr(upload, "name", "") or "upload").rsplit("/", 1)[-1]
    # Kept as a label only: characters PostgreSQL cannot store are dropped, not refused.
    name = name.replace("\x00", "").encode("utf-8", "ignore").decode()[:255] or "upload"
    return CheckedUpload(key, upload, name, content_type, size, digest.hexdigest())


def file_size_text(size: int) -> str:
    """1048576 -> "1 MB"; 1024 -> "1 KB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{size / 1024:.3g} KB"


def _clean_field(
    spec: dict[str, Any], data: Mapping[str, Any], files: Mapping[str, Any], out: CleanedAnswers
) -> None:
    """Puts the field's answer (or upload) in `out`; ValidationError when it is not valid."""
    key, kind, required = spec["key"], spec["type"], spec.get("required", False)
    if kind == f.FILE:
        upload = _upload(key, files.get(key) if files else None)
        if upload is None:
            if required:
                raise ValidationError("Attach a file.")
            return
        out.uploads.append(upload)
        return
    if kind == f.CHECKBOX:
        ticked = _checkbox(_get(data, key))
        if required and not ticked:
            raise ValidationError("Tick this box to continue.")
        out.answers[key] = ticked
        return
    if kind == f.MULTIPLE_CHOICE:
        value: Any = _multiple_choice(_get(data, key, many=True), spec.get("choices") or [])
    elif kind == f.SINGLE_CHOICE:
        value = _single_choice(_get(data, key), spec.get("choices") or [])
    elif kind == f.EMAIL:
        value = _email(_get(data, key))
    elif kind == f.PHONE:
        value = _phone(_get(data, key))
    elif kind == f.NUMBER:
        value = _number(_get(data, key))
    elif kind == f.DATE:
        value = _date(_get(data, key))
    elif kind == f.SIGNATURE:
        value = _SPACES.sub(" ", _text(_get(data, key), TEXT_LIMITS[f.SIGNATURE]))
        if value and len(value) < 2:
            raise ValidationError("Type your full name to sign.")
    else:  # text, long_text (and any type a newer version adds: kept as short text)
        value = _text(_get(data, key), TEXT_LIMITS.get(kind, TEXT_LIMITS[f.TEXT]))
    if value in ("", []):
        if required:
            raise ValidationError(
                "Type your full name to sign."
                if kind == f.SIGNATURE
                else "Choose at least one option."
                if kind == f.MULTIPLE_CHOICE
                else "This field is required."
            )
        return
    out.answers[key] = value
    if kind == f.SIGNATURE and not out.signature_name:
        out.signature_name = value


def clean_answers(
    fields: list[dict[str, Any]],
    data: Mapping[str, Any] | None,
    files: Mapping[str, Any] | None = None,
) -> CleanedAnswers:
    """The answers to store, the files to store and the signature's typed name, checked against
    `fields` (a submission's snapshot). `data` is a QueryDict (the page: a multiple choice as a
    repeated key, a checkbox as "on") or a JSON object (the API); `files` maps a file field's key
    to its UploadedFile. Keys that name no field are ignored. InvalidInput with
    fields={"answers.<key>": [message]} for every answer that is not valid."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InvalidInput(fields={"answers": ["Give the answers as an object."]})
    out = CleanedAnswers()
    errors: dict[str, list[str]] = {}
    for spec in fields:
        try:
            _clean_field(spec, data, files or {}, out)
        except ValidationError as exc:
            errors[f"{ERROR_PREFIX}{spec['key']}"] = list(exc.messages)
    if errors:
        raise InvalidInput("Some answers are not valid.", fields=errors)
    return out


def field_errors(exc: InvalidInput) -> dict[str, list[str]]:
    """An InvalidInput's messages keyed by field key (the page shows them beside the inputs),
    and under "" the ones that name no field."""
    out: dict[str, list[str]] = {}
    for name, messages in exc.fields.items():
        key = name.removeprefix(ERROR_PREFIX) if name.startswith(ERROR_PREFIX) else ""
        out.setdefault(key, []).extend(messages)
    return out
