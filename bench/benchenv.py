"""The environment every benchmark script runs in (the bench database, Redis db 9, a quiet log,
limits raised for load from one address), set where the caller has not, and Django set up.

    import benchenv  # first, before any Django import
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/careops_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "SECRET_KEY": "test-secret-key-test-secret-key-test-secret-key-0123456789",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_MANIFEST": "false",
    "LOG_LEVEL": "WARNING",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
    # The load comes from one address: the per-IP and per-user limits would answer 429.
    "THROTTLE_ANON": "10000000/min",
    "THROTTLE_USER": "10000000/min",
    "THROTTLE_AUTH": "10000/min",
    "THROTTLE_BOOKING": "10000000/min",
    "JWT_ACCESS_MINUTES": "120",
    "DJANGO_SETTINGS_MODULE": "careops.settings",
}

sys.path.insert(0, str(ROOT))
for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402

django.setup()
