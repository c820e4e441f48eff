"""Fixtures shared by every app's tests: an owner and a staff member of workspace A, and an
outsider who owns workspace B, each with an API client signed in through a real JWT and a
browser-session client for the pages; and the local stand-in for email and SMS providers."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from careops import rls
from careops.celery import app as celery_app
from messaging.tests.stand_in import StandIn
from workspaces.models import Membership
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Queued tasks run inline, where they are queued, in ordinary tests. Tests marked
    `real_worker` publish to the real broker and a real worker process runs them."""
    if request.node.get_closest_marker("real_worker"):
        yield
        return
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture(autouse=True)
def _workspace_scope(request):
    """Each test starts in the all-workspaces scope (careops.rls), as a request or task does.

    With CAREOPS_TEST_APP_ROLE=1, every test on the database runs as the application's role,
    which row-level security binds (tests.app_role): the whole suite then proves the app works
    under the policies. Tests marked `owner_role` assert query plans and stay with the owner:
    under RLS, PostgreSQL uses an index on an expression with a function that is not leakproof
    (lower(sku)) only after the policy's filter, so the plan differs by design."""
    token = rls._scope.set(rls.ALL)
    if (
        os.environ.get("CAREOPS_TEST_APP_ROLE") == "1"
        and "db" in request.fixturenames
        and "transactional_db" not in request.fixturenames
        and not request.node.get_closest_marker("owner_role")
    ):
        from tests.app_role import become_app_role

        request.getfixturevalue("db")
        request.getfixturevalue("settings").DATABASE_RLS = True
        become_app_role()
    yield
    rls._scope.reset(token)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the (Redis) cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def workspace_a(db):
    return WorkspaceFactory(name="Alpha Clinic", slug="alpha-clinic")


@pytest.fixture
def live_workspace_a(workspace_a):
    """Workspace A, live: its public pages take clients (modules of public-page tests use it
    for every test through pytestmark)."""
    from workspaces.tests.factories import make_live

    return make_live(workspace_a)


@pytest.fixture
def workspace_b(db):
    return WorkspaceFactory(name="Bravo Salon", slug="bravo-salon")


@pytest.fixture
def owner(workspace_a):
    return MembershipFactory(workspace=workspace_a, role=Membership.Role.OWNER).user


@pytest.fixture
def staff(workspace_a):
    return MembershipFactory(workspace=workspace_a, role=Membership.Role.STAFF).user


@pytest.fixture
def outsider(workspace_b):
    return MembershipFactory(workspace=workspace_b, role=Membership.Role.OWNER).user


def api_client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def owner_api(owner):
    return api_client_for(owner)


@pytest.fixture
def staff_api(staff):
    return api_client_for(staff)


@pytest.fixture
def outsider_api(outsider):
    return api_client_for(outsider)


@pytest.fixture
def anon_api():
    return APIClient()


def page_client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(client, owner):
    return page_client_for(client, owner)


@pytest.fixture
def staff_client(client, staff):
    return page_client_for(client, staff)


@pytest.fixture
def outsider_client(client, outsider):
    return page_client_for(client, outsider)


@pytest.fixture
def stand_in():
    """The email and SMS providers' APIs, served on 127.0.0.1: the real anymail and twilio
    clients talk to it over HTTP (see messaging/tests/stand_in.py)."""
    server = StandIn().start()
    yield server
    server.stop()
