"""The owners' webhook API: registering endpoints (targets checked, the secret shown once),
reading, changing and removing them, their deliveries, the test ping and enabling; staff get
403 and another workspace's endpoint is a 404."""

from __future__ import annotations

import pytest
from django.utils import timezone

from automation.models import Event, WebhookDelivery, WebhookEndpoint
from automation.webhooks.tests.conftest import SECRET, endpoint_for
from automation.webhooks.tests.receiver import Reply

pytestmark = pytest.mark.django_db

LIST = "/api/v1/webhooks"


def url(endpoint, suffix: str = "") -> str:
    return f"/api/v1/webhooks/{endpoint.pk}{suffix}"


def field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    return body["fields"]


# --- Register -----------------------------------------------------------------------------------


def test_owner_registers_an_endpoint_and_sees_its_made_secret_once(owner_api, receiver):
    response = owner_api.post(
        LIST,
        {"url": receiver.url, "events": ["booking.created", "contact.created"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["contact.created", "booking.created"]
    assert body["is_active"] is True
    shown_again = owner_api.get(url(endpoint)).json()
    assert "secret" not in shown_again
    assert shown_again["secret_hint"] == "••••••••" + endpoint.secret[-4:]
    assert endpoint.secret not in owner_api.get(LIST).content.decode()


def test_the_secret_is_stored_encrypted(owner_api, receiver):
    from django.db import connection

    owner_api.post(
        LIST, {"url": receiver.url, "events": ["contact.created"], "secret": SECRET}, format="json"
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM automation_webhookendpoint")
        [(stored,)] = cursor.fetchall()
    assert SECRET not in stored
    assert WebhookEndpoint.objects.get().secret == SECRET


@pytest.mark.parametrize(
    "target",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://224.0.0.1/hooks",
        "https://localhost/hooks",  # a name that resolves to 127.0.0.1
        "http://hooks.example.com/careops",  # not https
        "https://user:password@hooks.example.com/careops",
        "ftp://hooks.example.com/careops",
        "not a url",
    ],
)
def test_only_public_https_targets_are_accepted_in_production(owner_api, settings, target):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = owner_api.post(LIST, {"url": target, "events": ["contact.created"]}, format="json")

    assert "url" in field_errors(response)
    assert WebhookEndpoint.objects.count() == 0


def test_a_public_https_target_is_accepted_in_production(owner_api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = owner_api.post(
        LIST,
        {"url": "https://hooks.example.com/careops", "events": ["contact.created"]},
        format="json",
    )

    assert response.status_code == 201, response.content


def test_a_local_receiver_is_accepted_where_private_targets_are_allowed(owner_api, receiver):
    response = owner_api.post(
        LIST, {"url": receiver.url, "events": ["contact.created"]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["url"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["contact.created"]}, "url"),
        ({"url": "https://hooks.example.com/x"}, "events"),
        ({"url": "https://hooks.example.com/x", "events": []}, "events"),
        ({"url": "https://hooks.example.com/x", "events": ["form.overdue"]}, "events.0"),
        ({"url": "https://hooks.example.com/x", "events": "contact.created"}, "events"),
        (
            {"url": "https://h.example.com/x", "events": ["contact.created"], "secret": "short"},
            "secret",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner_api, body, field):
    response = owner_api.post(LIST, body, format="json")

    assert field in field_errors(response)


def test_a_workspace_has_ten_endpoints_at_most(owner_api, receiver, workspace_a):
    for n in range(10):
        endpoint_for(workspace_a, f"{receiver.url}/{n}")

    response = owner_api.post(
        LIST, {"url": receiver.url, "events": ["contact.created"]}, format="json"
    )

    assert "url" in field_errors(response)
    assert WebhookEndpoint.objects.count() == 10


# --- Read, change, remove -----------------------------------------------------------------------


def test_owner_lists_the_workspaces_endpoints_in_constant_queries(
    owner_api, receiver, workspace_a, workspace_b, django_assert_max_num_queries
):
    for n in range(3):
        endpoint_for(workspace_a, f"{receiver.url}/{n}")
    endpoint_for(workspace_b, receiver.url)

    # 3 queries: the user (JWT), the membership and workspace, the endpoints
    with django_assert_max_num_queries(3):
        response = owner_api.get(LIST)

    assert response.status_code == 200
    assert [e["url"] for e in response.json()] == [f"{receiver.url}/{n}" for n in range(3)]


def test_owner_changes_the_url_and_events(owner_api, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)

    response = owner_api.patch(
        url(endpoint),
        {"url": receiver.url + "/v2", "events": ["inventory.stock_low"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == (receiver.url + "/v2", ["inventory.stock_low"])
    assert endpoint.secret == SECRET


def test_a_change_to_a_private_target_is_refused_in_production(
    owner_api, receiver, workspace_a, settings
):
    endpoint = endpoint_for(workspace_a, "https://hooks.example.com/careops")
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = owner_api.patch(url(endpoint), {"url": "https://10.0.0.5/x"}, format="json")

    assert "url" in field_errors(response)
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/careops"


def test_owner_removes_an_endpoint_with_its_deliveries(owner_api, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)
    owner_api.post(url(endpoint, "/test"))

    response = owner_api.delete(url(endpoint))

    assert response.status_code == 204
    assert WebhookEndpoint.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


# --- Deliveries, test ping, enable --------------------------------------------------------------


def test_the_test_ping_is_signed_sent_now_and_recorded_with_its_answer(
    owner_api, receiver, workspace_a
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    receiver.script(202)

    response = owner_api.post(url(endpoint, "/test"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["last_status_code"]) == ("ping", "succeeded", 202)
    assert body["last_response_ms"] >= 0
    [request] = receiver.requests
    assert request.json["type"] == "ping"
    assert request.headers["CareOps-Event"] == "ping"


def test_a_failed_ping_says_why(owner_api, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)
    receiver.script(Reply(404, body=b"no such hook"))

    body = owner_api.post(url(endpoint, "/test")).json()

    assert (body["status"], body["last_status_code"]) == ("failed", 404)
    assert body["last_error"] == "HTTP 404: no such hook"
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0  # a test counts neither for nor against it


def test_deliveries_are_listed_newest_first_with_status_code_and_response_time(
    owner_api, receiver, workspace_a
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    receiver.script(500, 200)
    owner_api.post(url(endpoint, "/test"))
    owner_api.post(url(endpoint, "/test"))

    response = owner_api.get(url(endpoint, "/deliveries"))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["status"], r["last_status_code"]) for r in rows] == [
        ("succeeded", 200),
        ("failed", 500),
    ]
    assert all(r["last_response_ms"] is not None for r in rows)


def test_owner_enables_a_disabled_endpoint(owner_api, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        disabled_at=timezone.now(),
        consecutive_failures=10,
        disabled_reason="Disabled after 10 failed attempts in a row.",
    )

    response = owner_api.post(url(endpoint, "/enable"))

    assert response.status_code == 200
    body = response.json()
    assert (body["is_active"], body["consecutive_failures"], body["disabled_at"]) == (True, 0, None)


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "/{pk}"),
        ("patch", "/{pk}"),
        ("delete", "/{pk}"),
        ("get", "/{pk}/deliveries"),
        ("post", "/{pk}/test"),
        ("post", "/{pk}/enable"),
        ("post", ""),
    ],
)
def test_staff_get_403_on_every_webhook_operation(staff_api, receiver, workspace_a, method, suffix):
    endpoint = endpoint_for(workspace_a, receiver.url)

    response = getattr(staff_api, method)(
        LIST + suffix.format(pk=endpoint.pk),
        {"url": receiver.url, "events": ["contact.created"]},
        format="json",
    )

    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("delete", ""), ("get", "/deliveries"), ("post", "/test")],
)
def test_outsider_gets_404_for_another_workspaces_endpoint(
    outsider_api, receiver, workspace_a, method, suffix
):
    endpoint = endpoint_for(workspace_a, receiver.url)

    response = getattr(outsider_api, method)(url(endpoint, suffix), {}, format="json")

    assert response.status_code == 404
    assert WebhookEndpoint.objects.count() == 1
    assert receiver.requests == []


def test_an_event_kind_offered_is_one_the_outbox_records():
    from automation.webhooks.events import WEBHOOK_EVENTS

    assert set(WEBHOOK_EVENTS) <= set(Event.Kind.values)
