"""Schemathesis against the API's own OpenAPI schema (/api/v1/schema/): every operation, as the
owner and as the staff member of a workspace holding every kind of object (tests.full_data),
with generated valid and invalid input. Every answer must be a non-5xx, a status code the
operation documents, of the documented content type, and match the documented body.

The requests go in-process to the Django WSGI application, on the test's database connection
inside its transaction: each example runs in a savepoint that is rolled back, so one example's
writes (a deleted service, a deactivated workspace) do not change what the next one sees.
Path parameters and the ids in request bodies are often drawn from the workspace's real rows,
so the generated requests reach the views' logic and not only their 404s.

Bounded for CI: MAX_EXAMPLES cases per operation and role (SCHEMATHESIS_MAX_EXAMPLES overrides
it for a longer local run), derandomized so that a run is reproducible; throttles and the
sign-in lockout are off, since a 429 from the test's own request rate says nothing.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from rest_framework import throttling
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from automation.models import AutomationRun
from bookings.models import AvailabilityOverride, WorkingHours
from careops.tenancy import WORKSPACE_HEADER
from messaging.tests.stand_in import StandIn
from tests.full_data import FullWorkspace, full_workspace
from workspaces.models import Membership

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

APP = get_wsgi_application()
# The schema exactly as the API serves it to clients.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", APP)

# What the running test aims at: filled by _aim() (the `signed_in` fixture), read by the hooks
# below while Hypothesis draws each case, which it does after the fixtures ran.
PATH_IDS: dict[tuple[str, str], list[int]] = {}
BODY_IDS: dict[str, list[int]] = {}
CASES: Counter = Counter()


def _path_ids(path: str, name: str) -> list[int]:
    # The key is the path up to the parameter: ("/api/v1/bookings", "id"),
    # ("/api/v1/messages/conversations/{id}/messages", "message_id").
    return PATH_IDS.get((path.split("{" + name + "}")[0].rstrip("/"), name), [])


def _sometimes_real(value, ids: list[int]):
    return st.sampled_from([value, *ids]) if ids else st.just(value)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    path = context.operation.path
    return st.fixed_dictionaries(
        {
            name: _sometimes_real(value, _path_ids(path, name))
            for name, value in path_parameters.items()
        }
    )


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    drawn = {}
    for name, value in body.items():
        ids = BODY_IDS.get(name, [])
        if isinstance(value, list) and ids and all(isinstance(v, int) for v in value):
            drawn[name] = st.one_of(st.just(value), st.lists(st.sampled_from(ids), max_size=2))
        elif isinstance(value, int) and not isinstance(value, bool):
            drawn[name] = _sometimes_real(value, ids)
        else:
            drawn[name] = st.just(value)
    return st.fixed_dictionaries(drawn)


def _aim(data: FullWorkspace) -> None:
    ws = data.workspace
    bookings = [data.booking.pk, data.completed_booking.pk, data.cancelled_booking.pk]
    contacts = [c.pk for c in data.contacts]
    members = [u.pk for u in data.members]
    types = [t.pk for t in data.booking_types]
    items = [i.pk for i in data.items]
    PATH_IDS.clear()
    PATH_IDS.update(
        {
            ("/api/v1/alerts", "id"): [a.pk for a in data.alerts],
            ("/api/v1/automation/rules", "id"): [r.pk for r in data.rules.values()],
            ("/api/v1/automation/runs", "id"): list(
                AutomationRun.objects.for_workspace(ws).values_list("pk", flat=True)[:3]
            ),
            ("/api/v1/availability-overrides", "id"): list(
                AvailabilityOverride.objects.for_workspace(ws).values_list("pk", flat=True)
            ),
            ("/api/v1/booking-types", "id"): types,
            ("/api/v1/bookings", "id"): bookings,
            ("/api/v1/contacts", "id"): contacts,
            ("/api/v1/forms/submissions", "id"): [
                data.submission.pk,
                data.pending_submission.pk,
            ],
            ("/api/v1/forms/submissions/{id}/files", "upload_pk"): [data.upload.pk],
            ("/api/v1/forms/templates", "id"): [data.form_template.pk],
            ("/api/v1/integrations", "id"): [
                data.email_integration.pk,
                data.sms_integration.pk,
            ],
            ("/api/v1/inventory", "id"): items,
            ("/api/v1/messages/conversations", "id"): [data.conversation.pk],
            ("/api/v1/messages/conversations/{id}/messages", "message_id"): [
                data.failed.pk,
                data.reply.pk,
                data.inbound.pk,
            ],
            ("/api/v1/messages/templates", "id"): [data.message_template.pk],
            ("/api/v1/working-hours", "id"): list(
                WorkingHours.objects.for_workspace(ws).values_list("pk", flat=True)[:3]
            ),
            ("/api/v1/webhooks", "id"): [data.webhook_endpoint.pk],
            ("/api/v1/workspaces", "id"): [ws.pk],
            ("/api/v1/workspaces", "workspace_pk"): [ws.pk],
            ("/api/v1/workspaces/{workspace_pk}/invitations", "id"): [data.invitation.pk],
            ("/api/v1/workspaces/{workspace_pk}/memberships", "id"): list(
                Membership.objects.filter(workspace=ws).values_list("pk", flat=True)
            ),
        }
    )
    BODY_IDS.clear()
    BODY_IDS.update(
        {
            "staff": members,
            "assigned_to": members,
            "contact_id": contacts,
            "other_id": contacts,
            "booking_id": bookings,
            "booking": bookings,
            "booking_type": types,
            "booking_type_ids": types,
            "template": [data.form_template.pk],
            "template_id": [data.message_template.pk],
            "item": items,
        }
    )


@pytest.fixture(scope="module")
def _media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def _business(django_db_setup, django_db_blocker, _media_root) -> Iterator[FullWorkspace]:
    """One workspace for the module's 200-odd tests (building one takes a while): made in a
    transaction that is rolled back when the module ends; each test runs in a savepoint of
    it (pytest-django's `db`), each example in a savepoint of that."""
    stand_in = StandIn().start()
    try:
        with (
            django_db_blocker.unblock(),
            override_settings(MEDIA_ROOT=_media_root),
            transaction.atomic(),
        ):
            data = full_workspace()
            # The providers' APIs are the local stand-in's (`POST .../test` calls them).
            for integration, key, path in (
                (data.email_integration, "api_url", "/resend/"),
                (data.sms_integration, "api_base_url", "/twilio"),
            ):
                integration.credentials = {**integration.credentials, key: stand_in.url + path}
                integration.save(update_fields=["credentials"])
            yield data
            transaction.set_rollback(True)
    finally:
        stand_in.stop()


@pytest.fixture
def business(_business, db, settings, _media_root) -> FullWorkspace:
    settings.MEDIA_ROOT = _media_root
    return _business


@pytest.fixture
def signed_in(business, role) -> dict[str, str]:
    """The role's headers: a real access token, and workspace A named."""
    _aim(business)
    user = business.owner if role == "owner" else business.staff
    return {
        "Authorization": f"Bearer {RefreshToken.for_user(user).access_token}",
        WORKSPACE_HEADER: str(business.workspace.pk),
        # The WSGI test client does not undo GZipMiddleware's compression as HTTP clients do.
        "Accept-Encoding": "identity",
    }


@pytest.fixture
def quiet_limits(settings, monkeypatch):
    """No throttle or sign-in lockout answers the test's own request rate."""
    for scope in throttling.SimpleRateThrottle.THROTTLE_RATES:
        monkeypatch.setitem(throttling.SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")
    settings.AXES_ENABLED = False


@pytest.fixture
def server_errors() -> Iterator[list[BaseException]]:
    """Requests reach the WSGI app on the test's connection, inside its transaction: Django's
    per-request connection cleanup would close it, so it is off for the test (as in Django's
    test client). Exceptions behind a 500 are kept, to show their traceback on failure."""
    errors: list[BaseException] = []

    def keep(sender, request=None, **kwargs):
        errors.append(sys.exc_info()[1])

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    got_request_exception.connect(keep)
    try:
        yield errors
    finally:
        got_request_exception.disconnect(keep)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class _CaseReport:
    """Prints how many operations and cases each role ran, after the session's summary."""

    def pytest_terminal_summary(self, terminalreporter):
        for role in sorted({role for (role, _) in CASES}):
            labels = [label for (r, label) in CASES if r == role]
            cases = sum(n for (r, _), n in CASES.items() if r == role)
            terminalreporter.write_line(
                f"schemathesis as {role}: {len(labels)} operations, {cases} cases"
            )


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request):
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("schemathesis-case-report"):
        plugins.register(_CaseReport(), "schemathesis-case-report")


def test_the_schema_tested_is_the_one_served(anon_api):
    served = anon_api.get("/api/v1/schema/", {"format": "json"})
    assert served.status_code == 200
    assert served.json() == schema.raw_schema


@pytest.mark.parametrize("role", ["owner", "staff"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    # The fixtures are shared by a test's examples on purpose: each example's writes are
    # rolled back (a savepoint), so every example starts from the same workspace.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case, role, signed_in, quiet_limits, server_errors):
    CASES[(role, case.operation.label)] += 1
    server_errors.clear()
    with transaction.atomic():
        try:
            case.call_and_validate(headers=signed_in, checks=CHECKS)
        except Exception as exc:
            for error in server_errors:
                exc.add_note("".join(traceback.format_exception(error)))
            raise
        finally:
            transaction.set_rollback(True)
