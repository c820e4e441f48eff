"""The owner's webhook pages in the settings area: the list, adding an endpoint (the secret
shown once, a refused target shown on its field), an endpoint's page with its recent
deliveries, the test ping, enabling and removing; staff get 403, another workspace's endpoint
is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.models import WebhookDelivery, WebhookEndpoint
from automation.webhooks.tests.conftest import SECRET, endpoint_for

pytestmark = pytest.mark.django_db


def page(endpoint, name: str = "settings-webhook") -> str:
    return reverse(name, args=[endpoint.pk])


def test_owner_sees_the_endpoints_linked_from_the_settings_tabs(
    owner_client, receiver, workspace_a, workspace_b
):
    mine = endpoint_for(workspace_a, receiver.url + "/mine")
    endpoint_for(workspace_b, receiver.url + "/theirs")

    response = owner_client.get(reverse("settings-webhooks"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{page(mine)}"' in html
    assert "/theirs" not in html
    assert f'href="{reverse("settings-webhooks")}" aria-current="page"' in html


def test_owner_adds_an_endpoint_and_is_shown_its_secret_once(owner_client, receiver):
    response = owner_client.post(
        reverse("settings-webhook-new"),
        {"url": receiver.url, "events": ["contact.created", "form.submitted"]},
    )

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["contact.created", "form.submitted"]
    assert endpoint.secret in response.content.decode()
    later = owner_client.get(page(endpoint)).content.decode()
    assert endpoint.secret not in later
    assert endpoint.secret[-4:] in later


def test_a_private_target_is_refused_on_the_form_in_production(owner_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    response = owner_client.post(
        reverse("settings-webhook-new"),
        {"url": "https://169.254.169.254/latest/meta-data/", "events": ["contact.created"]},
    )

    assert response.status_code == 400
    assert "inside a private network" in response.context["form"].errors["url"][0]
    assert WebhookEndpoint.objects.count() == 0


def test_an_endpoint_without_events_is_refused_on_the_form(owner_client, receiver):
    response = owner_client.post(reverse("settings-webhook-new"), {"url": receiver.url})

    assert response.status_code == 400
    assert response.context["form"].errors["events"] == ["Choose at least one event."]


def test_the_endpoint_page_shows_recent_deliveries_with_status_code_and_response_time(
    owner_client, receiver, workspace_a, django_assert_max_num_queries
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    receiver.script(418)
    owner_client.post(page(endpoint, "settings-webhook-test"))

    # 6 queries: session, user, membership and workspace, the endpoint, its deliveries,
    # the session's messages (the ping's result, shown once)
    with django_assert_max_num_queries(6):
        response = owner_client.get(page(endpoint))

    assert response.status_code == 200
    html = response.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 418
    assert "418" in html
    assert f"{delivery.last_response_ms} ms" in html
    assert "The test ping failed: HTTP 418" in html


def test_owner_edits_the_endpoints_events(owner_client, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)

    response = owner_client.post(
        page(endpoint), {"url": receiver.url, "events": ["booking.rescheduled"]}
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["booking.rescheduled"]
    assert endpoint.secret == SECRET


def test_a_disabled_endpoint_says_why_and_is_switched_on_again(owner_client, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        disabled_at=timezone.now(),
        consecutive_failures=10,
        disabled_reason="Disabled after 10 failed attempts in a row.",
    )
    shown = owner_client.get(page(endpoint)).content.decode()
    assert "Disabled after 10 failed attempts in a row." in shown

    response = owner_client.post(page(endpoint, "settings-webhook-enable"))

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 0)


def test_owner_removes_an_endpoint(owner_client, receiver, workspace_a):
    endpoint = endpoint_for(workspace_a, receiver.url)

    response = owner_client.post(page(endpoint, "settings-webhook-delete"))

    assert response.status_code == 302
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "settings-webhooks"),
        ("get", "settings-webhook-new"),
        ("post", "settings-webhook-new"),
        ("get", "settings-webhook"),
        ("post", "settings-webhook"),
        ("post", "settings-webhook-test"),
        ("post", "settings-webhook-enable"),
        ("post", "settings-webhook-delete"),
    ],
)
def test_staff_get_403_on_every_webhook_page(staff_client, receiver, workspace_a, method, name):
    endpoint = endpoint_for(workspace_a, receiver.url)
    args = [] if name in ("settings-webhooks", "settings-webhook-new") else [endpoint.pk]

    response = getattr(staff_client, method)(
        reverse(name, args=args), {"url": receiver.url, "events": ["contact.created"]}
    )

    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "settings-webhook"),
        ("post", "settings-webhook-test"),
        ("post", "settings-webhook-delete"),
    ],
)
def test_outsider_gets_404_for_another_workspaces_endpoint(
    outsider_client, receiver, workspace_a, method, name
):
    endpoint = endpoint_for(workspace_a, receiver.url)

    response = getattr(outsider_client, method)(page(endpoint, name))

    assert response.status_code == 404
    assert WebhookEndpoint.objects.count() == 1
    assert receiver.requests == []
