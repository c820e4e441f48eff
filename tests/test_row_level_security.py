"""Row-level security (careops.rls): as the application's role, PostgreSQL itself keeps a
workspace's requests and tasks to that workspace's rows, even where a query forgot its filter.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from careops import rls
from conftest import api_client_for
from contacts.models import Contact
from tests.app_role import app_role_name, become_app_role, current_role
from tests.full_data import full_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_full(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return full_workspace(), full_workspace(name="Beta Clinic", slug="beta-clinic")


@pytest.fixture
def as_app_role(settings):
    settings.DATABASE_RLS = True
    return become_app_role()


def _protected_models():
    """Every model on a table with a policy: workspace-owned models, and the link models of
    their many-to-many fields."""
    tables = {table for table, _column, _parent in rls.protected_tables(apps.get_models())}
    return [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table in tables]


def _scope_setting() -> str:
    with connection.cursor() as cursor:
        cursor.cursor.execute("SELECT current_setting(%s, true)", [rls.SETTING])
        return cursor.cursor.fetchone()[0]


def test_every_workspace_owned_table_has_a_policy():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
            "WHERE c.relrowsecurity AND p.policyname = %s",
            [rls.POLICY],
        )
        protected = {row[0] for row in cursor.fetchall()}
    expected = {table for table, _c, _p in rls.protected_tables(apps.get_models())}
    assert len(expected) >= 28  # 25 workspace-owned tables and 3 link tables today
    assert expected <= protected, f"without a policy: {sorted(expected - protected)}"


def test_the_app_role_can_bypass_nothing(as_app_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolconfig FROM pg_roles WHERE rolname = %s",
            [as_app_role],
        )
        superuser, bypasses, config = cursor.fetchone()
    assert (superuser, bypasses) == (False, False)
    assert f"{rls.SETTING}={rls.ALL}" in config
    assert "jit=off" in config  # as careops.settings sends on a direct connection
    assert current_role() == as_app_role == app_role_name()


def test_a_query_that_forgot_its_workspace_filter_returns_nothing_without_a_scope(
    two_full, as_app_role
):
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, '', true)", [rls.SETTING])
    for model in _protected_models():
        assert not model.objects.exists(), model._meta.label


def test_in_a_workspace_scope_every_table_shows_that_workspace_only(two_full, as_app_role):
    alpha, beta = two_full
    for full in (alpha, beta):
        with rls.workspace_scope(full.workspace.pk):
            for model in _protected_models():
                rows = model.objects.all()  # the filter "forgotten" on purpose
                assert rows.exists(), model._meta.label
                if not model._meta.auto_created:
                    assert set(rows.values_list("workspace_id", flat=True)) == {full.workspace.pk}
    with rls.all_workspaces():
        assert Contact.objects.filter(workspace=beta.workspace).exists()
        assert Contact.objects.filter(workspace=alpha.workspace).exists()


def test_a_workspace_scope_cannot_write_another_workspaces_rows(two_full, as_app_role):
    alpha, beta = two_full
    with rls.workspace_scope(alpha.workspace.pk):
        assert Contact.objects.filter(pk=beta.contact.pk).update(name="Taken over") == 0
        assert Contact.objects.filter(pk=beta.contact.pk).delete()[0] == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Contact.objects.create(workspace=beta.workspace, name="Planted", email="p@x.example")
    beta.contact.refresh_from_db()
    assert beta.contact.name != "Taken over"


def test_an_api_request_runs_in_its_workspace(
    two_full, as_app_role, django_capture_on_commit_callbacks
):
    alpha, beta = two_full
    seen: list[str] = []

    def record_scope(execute, sql, params, many, context):
        if "contacts_contact" in sql:
            seen.append(_scope_setting())
        return execute(sql, params, many, context)

    api = api_client_for(alpha.owner)
    with connection.execute_wrapper(record_scope):
        response = api.get("/api/v1/contacts", HTTP_X_WORKSPACE_ID=str(alpha.workspace.pk))
    assert response.status_code == 200
    emails = {row["email"] for row in response.json()["results"]}
    assert emails == {c.email for c in alpha.contacts if c.email}
    assert seen and set(seen) == {str(alpha.workspace.pk)}
    # Another workspace's object, asked for by id, is still a 404 (and the database agrees).
    other = api.get(
        f"/api/v1/contacts/{beta.contact.pk}", HTTP_X_WORKSPACE_ID=str(alpha.workspace.pk)
    )
    assert other.status_code == 404
    assert rls.current() == rls.ALL  # the request left no scope behind


def test_pages_show_the_switcher_across_workspaces_and_the_rest_in_one(
    client, two_full, as_app_role
):
    alpha, beta = two_full
    from workspaces.models import Membership
    from workspaces.tests.factories import MembershipFactory

    MembershipFactory(workspace=beta.workspace, user=alpha.owner, role=Membership.Role.STAFF)
    client.force_login(alpha.owner)
    client.post(reverse("workspace-switch"), {"workspace_id": alpha.workspace.pk})

    page = client.get(reverse("contacts"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha Clinic" in html and "Beta Clinic" in html  # the switcher
    assert alpha.contact.email in html
    assert beta.contact.email not in html


def test_a_public_page_runs_in_its_workspace(client, two_full, as_app_role):
    alpha, _beta = two_full
    page = client.get(reverse("booking-page", args=[alpha.workspace.slug]))
    assert page.status_code == 200
    assert alpha.booking_types[0].name in page.content.decode()


def test_a_task_runs_in_the_scope_that_published_it():
    headers: dict = {}
    with rls.workspace_scope(42):
        rls.task_headers(headers)
    assert headers == {rls.HEADER: "42"}

    rls.task_started("t1", SimpleNamespace(**headers, is_eager=False))
    assert rls.current() == "42"
    rls.task_ended("t1")
    assert rls.current() == rls.ALL

    rls.task_started("t2", SimpleNamespace(is_eager=False))  # a sweep: no scope carried
    assert rls.current() == rls.ALL
    rls.task_ended("t2")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_statement_gets_a_transaction_of_its_own(settings):
    """In autocommit a set_config(..., true) would last one statement: the wrapper gives the
    statement a transaction of its own, with the scope set inside it."""
    settings.DATABASE_RLS = True
    assert connection.get_autocommit()
    with rls.workspace_scope(42), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [rls.SETTING])
        assert cursor.fetchone()[0] == "42"
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting(%s, true), '')", [rls.SETTING])
        assert cursor.fetchone()[0] in ("", rls.ALL)  # gone with its transaction
