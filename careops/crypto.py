"""Secrets at rest: provider credentials are stored encrypted (Fernet, AES-128-CBC + HMAC).

Keys come from FIELD_ENCRYPTION_KEYS (newest first, so a key can be rotated in: new writes use
the first, reads try each); without it one key is derived from SECRET_KEY, which suits the
quickstart and tests but ties the data to that secret.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models


def _derived_key(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"careops.field-encryption")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


@cache
def _fernet() -> MultiFernet:
    keys = [k.encode() for k in settings.FIELD_ENCRYPTION_KEYS] or [
        _derived_key(settings.SECRET_KEY)
    ]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(value: Any) -> str:
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt(token: str) -> Any:
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        # A key was rotated out or SECRET_KEY changed: the credentials must be entered again.
        return None


def mask(secret: str) -> str:
    """What a page or the API may show of a secret: its last four characters."""
    secret = str(secret or "")
    return "•" * 8 + secret[-4:] if len(secret) > 8 else "•" * 8


class EncryptedJSONField(models.TextField):
    """A JSON value, encrypted in the database; undecryptable values read as None."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        return decrypt(value)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt(value)
