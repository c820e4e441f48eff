"""The signed public link of a submission (/f/<token>/): made, and read back."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from careops.errors import InvalidInput
from forms.models import FormSubmission

LINK_SALT = "careops.forms.link"


class LinkInvalid(InvalidInput):
    """A forged, revoked or expired link (the public page says so; the API answers 400)."""

    code = "link_invalid"
    default_message = "This link is not valid."


class _IssuedSigner(signing.TimestampSigner):
    """A TimestampSigner that stamps a given time instead of the clock's."""

    def __init__(self, issued_at: datetime, **kwargs):
        super().__init__(**kwargs)
        self.issued_at = issued_at

    def timestamp(self) -> str:
        return signing.b62_encode(int(self.issued_at.timestamp()))


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=LINK_SALT)


def submission_token(submission: FormSubmission) -> str:
    """The signed token of the client's link: names the submission and its token_nonce, and
    expires settings.FORM_LINK_MAX_AGE_DAYS after the nonce was issued (link_issued_at). The
    same submission gives the same token however often it is asked for."""
    signer = _IssuedSigner(submission.link_issued_at, salt=LINK_SALT)
    return signer.sign_object({"s": submission.pk, "n": submission.token_nonce}, compress=True)


def submission_link(submission: FormSubmission) -> str:
    """The absolute public URL /f/<token>/ (settings.SITE_URL)."""
    return settings.SITE_URL + reverse("form-public", args=[submission_token(submission)])


def _link_invalid(reason: str) -> LinkInvalid:
    message = (
        "This link has expired. Ask the business to send you a new one."
        if reason == "expired"
        else LinkInvalid.default_message
    )
    return LinkInvalid(message, fields={"token": [message]}, extra={"reason": reason})


def submission_from_token(token: str, *, now: datetime | None = None) -> FormSubmission:
    """The submission a token names (workspace, contact, template loaded); LinkInvalid when
    forged, revoked or expired (extra={"reason": "expired"} for an expired one)."""
    signer = _signer()
    if not isinstance(token, str) or not token or len(token) > 500:
        raise _link_invalid("invalid")
    try:
        data = signer.unsign_object(token)
        # The time it was signed: unsign() with max_age would read the clock itself, and the
        # caller may pass `now`.
        issued = signing.b62_decode(signing.Signer.unsign(signer, token).rsplit(signer.sep, 1)[1])
    except (signing.BadSignature, TypeError, ValueError, IndexError):
        raise _link_invalid("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        raise _link_invalid("invalid")
    submission = (
        FormSubmission.objects.select_related("workspace", "contact", "template", "booking")
        .filter(pk=data.get("s") if isinstance(data.get("s"), int) else None)
        .first()
    )
    if submission is None or not constant_time_compare(submission.token_nonce, data["n"]):
        raise _link_invalid("invalid")
    max_age = timedelta(days=settings.FORM_LINK_MAX_AGE_DAYS).total_seconds()
    if (now or timezone.now()).timestamp() - issued > max_age:
        raise _link_invalid("expired")
    return submission
