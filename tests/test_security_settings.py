"""Production's security settings: Django's deployment checks pass with the environment
production runs with, cookies are Secure, HttpOnly (the session's) and SameSite=Lax, and API
tokens are short-lived, with each refresh token good for one use.

Settings are read once, at import, from the environment: what production gets is checked in a
child process started with production's variables (DEBUG off, HTTPS redirect on, a real key).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework_simplejwt.tokens import AccessToken

from workspaces.tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
# Variables a developer's or the suite's environment may set; production leaves them to their
# defaults (the tests below set what they mean to weaken).
DEVELOPMENT_ONLY = ("DEBUG", "SECURE_SSL_REDIRECT", "STATIC_MANIFEST", "SECURE_HSTS_SECONDS")


def production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in DEVELOPMENT_ONLY}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="careops.example.com",
        DJANGO_SETTINGS_MODULE="careops.settings",
        **overrides,
    )
    return env


def in_production(code: str, **overrides: str) -> subprocess.CompletedProcess:
    """Run code after django.setup() in a process with production's environment."""
    return subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=ROOT,
        env=production_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


DEPLOY_CHECK = (
    "from django.core.management import call_command\n"
    'call_command("check", "--deploy", "--fail-level", "WARNING")'
)


def test_the_deployment_checks_pass_with_productions_environment():
    result = in_production(DEPLOY_CHECK)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_deployment_checks_fail_when_a_setting_is_weakened():
    """The test above passes because the settings are right, not because the check is blind:
    turning HSTS off in the same environment fails it."""
    result = in_production(DEPLOY_CHECK, SECURE_HSTS_SECONDS="0")

    assert result.returncode != 0
    assert "security.W004" in result.stderr


COOKIE_SETTINGS = [
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
]


def test_production_cookies_are_secure_httponly_and_same_site_lax():
    code = (
        "import json\nfrom django.conf import settings\n"
        f"print(json.dumps({{name: getattr(settings, name) for name in {COOKIE_SETTINGS!r}}}))"
    )
    result = in_production(code)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        # Pages read the token from the template (base.html's hx-headers), never the cookie.
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SECURE_SSL_REDIRECT": True,
    }


@pytest.mark.django_db
@pytest.mark.skipif(settings.DEBUG, reason="the suite runs with DEBUG off, as production does")
def test_signing_in_sets_the_cookies_with_those_flags(client, owner):
    page = client.get(reverse("login"), secure=True)
    signed_in = client.post(
        reverse("login"), {"username": owner.email, "password": PASSWORD}, secure=True
    )

    assert signed_in.status_code == 302
    session, csrf = signed_in.cookies["sessionid"], page.cookies["csrftoken"]
    assert (session["secure"], session["httponly"], session["samesite"]) == (True, True, "Lax")
    assert (csrf["secure"], csrf["httponly"], csrf["samesite"]) == (True, True, "Lax")


# --- API tokens -------------------------------------------------------------------------------


def test_access_tokens_live_15_minutes_at_most_and_refresh_tokens_rotate_into_a_blacklist():
    jwt = settings.SIMPLE_JWT

    assert jwt["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=15)
    assert jwt["ROTATE_REFRESH_TOKENS"] is True
    assert jwt["BLACKLIST_AFTER_ROTATION"] is True
    assert "rest_framework_simplejwt.token_blacklist" in settings.INSTALLED_APPS


@pytest.mark.django_db
def test_a_rotated_refresh_token_is_refused(anon_api, owner):
    login = anon_api.post(
        reverse("auth-login"), {"email": owner.email, "password": PASSWORD}, format="json"
    ).json()
    access = AccessToken(login["access"])

    rotated = anon_api.post(reverse("auth-refresh"), {"refresh": login["refresh"]}, format="json")
    replayed = anon_api.post(reverse("auth-refresh"), {"refresh": login["refresh"]}, format="json")
    onward = anon_api.post(
        reverse("auth-refresh"), {"refresh": rotated.json()["refresh"]}, format="json"
    )

    assert access["exp"] - access["iat"] <= 15 * 60
    assert rotated.status_code == 200
    assert replayed.status_code == 401
    assert onward.status_code == 200
