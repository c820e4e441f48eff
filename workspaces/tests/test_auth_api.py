from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from workspaces.models import Membership, User, Workspace
from workspaces.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def login(client, email, password=PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


def test_register_creates_the_user_and_their_first_workspace_as_owner(anon_api):
    response = anon_api.post(
        REGISTER,
        {
            "email": "Ada@Example.com",
            "password": "a-long-enough-passphrase",
            "name": "Ada Lovelace",
            "workspace": {"name": "Ada's Clinic", "timezone": "Europe/London"},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert body["workspace"]["slug"] == "adas-clinic"
    assert body["workspace"]["my_role"] == "owner"
    assert body["access"] and body["refresh"]
    user = User.objects.get(email="ada@example.com")
    assert user.check_password("a-long-enough-passphrase")
    assert user.password.startswith("argon2")
    assert Membership.objects.get(user=user).role == "owner"


def test_register_without_a_workspace_creates_only_the_account(anon_api):
    response = anon_api.post(
        REGISTER,
        {"email": "solo@example.com", "password": "a-long-enough-passphrase"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["workspace"] is None
    assert not Workspace.objects.exists()


def test_register_refuses_a_taken_email_whatever_its_case(anon_api):
    UserFactory(email="taken@example.com")

    response = anon_api.post(
        REGISTER,
        {"email": "TAKEN@example.com", "password": "a-long-enough-passphrase"},
        format="json",
    )

    assert response.status_code == 400
    assert (
        response.json()["fields"]["email"][0]["message"]
        == "An account with this email already exists."
    )
    assert User.objects.count() == 1


def test_register_refuses_a_weak_password_and_stores_nothing(anon_api):
    response = anon_api.post(
        REGISTER,
        {"email": "weak@example.com", "password": "12345678", "workspace": {"name": "X"}},
        format="json",
    )

    assert response.status_code == 400
    assert "password" in response.json()["fields"]
    assert not User.objects.exists() and not Workspace.objects.exists()


def test_register_refuses_an_unknown_time_zone_and_stores_nothing(anon_api):
    response = anon_api.post(
        REGISTER,
        {
            "email": "tz@example.com",
            "password": "a-long-enough-passphrase",
            "workspace": {"name": "Clinic", "timezone": "Mars/Olympus"},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["fields"]
    assert not User.objects.exists()


def test_login_returns_a_short_lived_access_token_and_a_refresh_token(anon_api, owner):
    response = login(anon_api, owner.email.upper())

    assert response.status_code == 200
    access = AccessToken(response.json()["access"])
    assert access["user_id"] == str(owner.pk)
    assert timedelta(seconds=access["exp"] - access["iat"]) <= timedelta(minutes=15)
    owner.refresh_from_db()
    assert owner.last_login is not None


def test_login_with_a_wrong_password_is_401_in_the_error_shape(anon_api, owner):
    response = login(anon_api, owner.email, "wrong-password")

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "Email or password is incorrect.",
    }


def test_repeated_failed_logins_lock_the_account_from_that_address(anon_api, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(anon_api, owner.email, "wrong-password")

    response = login(anon_api, owner.email)  # even the right password

    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert int(response["Retry-After"]) > 0


def test_refresh_rotates_and_the_old_refresh_token_stops_working(anon_api, owner):
    first = login(anon_api, owner.email).json()

    rotated = anon_api.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    replay = anon_api.post(REFRESH, {"refresh": first["refresh"]}, format="json")

    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_not_valid"


def test_logout_blacklists_the_refresh_token(anon_api, owner):
    tokens = login(anon_api, owner.email).json()

    logout = anon_api.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
    refresh = anon_api.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert logout.status_code == 204
    assert refresh.status_code == 401


def test_logout_with_a_garbage_token_is_a_field_error(anon_api):
    response = anon_api.post(LOGOUT, {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 400
    assert "refresh" in response.json()["fields"]


def test_me_lists_the_users_workspaces_and_roles(owner_api, owner, workspace_a):
    response = owner_api.get(ME)

    assert response.status_code == 200
    assert response.json()["email"] == owner.email
    assert response.json()["memberships"] == [
        {
            "id": owner.memberships.get().pk,
            "workspace": {
                "id": workspace_a.pk,
                "name": "Alpha Clinic",
                "slug": "alpha-clinic",
                "status": "draft",
            },
            "role": "owner",
            "access": {"inbox": "act", "bookings": "act", "forms": "act", "inventory": "act"},
        }
    ]


def test_me_without_a_token_is_401(anon_api):
    response = anon_api.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_changing_the_password_revokes_existing_access_tokens(owner_api, owner):
    owner.set_password("another-long-passphrase")
    owner.save()

    assert owner_api.get(ME).status_code == 401


def test_auth_endpoints_are_throttled(anon_api):
    statuses = [
        anon_api.post(REFRESH, {"refresh": "garbage"}, format="json").status_code for _ in range(21)
    ]

    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    throttled = anon_api.post(REFRESH, {"refresh": "garbage"}, format="json")
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
