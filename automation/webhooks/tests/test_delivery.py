"""Outbound webhooks end to end against a local receiver: what is sent and how it is signed,
retries with backoff, abandoning, disabling a failing endpoint, the fan-out's reach, and that
nothing is sent in the request that caused the event or lost while the broker is down."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from automation.models import Alert, Event, WebhookDelivery, WebhookEndpoint
from automation.webhooks import delivery
from automation.webhooks.delivery import (
    webhook_deliveries_due,
    webhook_deliveries_purge,
    webhook_endpoint_ping,
)
from automation.webhooks.services import webhook_deliveries_create, webhook_endpoint_enable
from automation.webhooks.tasks import webhook_deliver
from automation.webhooks.tests.conftest import SECRET, contact_event, dispatch, endpoint_for
from automation.webhooks.tests.receiver import Reply

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status
README = Path(__file__).resolve().parents[3] / "README.md"


def readme_verifier():
    """The receiver's check exactly as README.md documents it."""
    text = README.read_text()
    code = re.search(r"<!-- webhook-verify -->\n```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["careops_signature_ok"]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


# --- What is sent ---------------------------------------------------------------------------------


def test_a_delivery_is_signed_so_that_the_documented_check_accepts_it(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    [request] = receiver.requests
    verify = readme_verifier()
    header = request.headers["CareOps-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(SECRET, header, request.body)
    assert not verify("whsec_another-secret-0123456789", header, request.body)
    assert not verify(SECRET, header, request.body.replace(b'"contact', b'"Contact', 1))
    assert not verify(SECRET, "v1=" + header.split("v1=")[1], request.body)


def test_the_documented_check_refuses_a_delivery_played_again_later(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)
    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)
    [request] = receiver.requests

    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        assert not readme_verifier()(SECRET, request.headers["CareOps-Signature"], request.body)


def test_a_delivery_posts_the_event_as_json_and_records_status_code_and_response_time(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    event = contact_event(workspace_a, name="Ada Lovelace", email="ada@example.org")
    receiver.script(200)

    dispatch(event, django_capture_on_commit_callbacks)

    [request] = receiver.requests
    sent = WebhookDelivery.objects.get()
    assert request.path == "/hooks/careops"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["CareOps-Event"] == "contact.created"
    assert request.headers["CareOps-Delivery"] == str(sent.pk)
    body = request.json
    assert body["id"] == f"evt_{event.pk}"
    assert body["type"] == "contact.created"
    assert body["workspace"] == {"id": workspace_a.pk, "slug": workspace_a.slug}
    assert body["data"]["contact"]["name"] == "Ada Lovelace"
    assert body["data"]["contact"]["email"] == "ada@example.org"
    assert (sent.status, sent.attempts, sent.last_status_code) == (Status.SUCCEEDED, 1, 200)
    assert sent.last_response_ms is not None and sent.last_response_ms >= 0
    assert sent.delivered_at is not None and sent.next_attempt_at is None
    endpoint.refresh_from_db()
    assert endpoint.last_success_at == sent.delivered_at
    assert endpoint.consecutive_failures == 0


# --- Retries ------------------------------------------------------------------------------------


def test_a_refused_delivery_is_retried_after_the_backoff_at_moved_time(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)
    receiver.script(Reply(500, body=b"database is down"), 200)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)
    waiting = WebhookDelivery.objects.get()
    assert (waiting.status, waiting.attempts, waiting.last_status_code) == (Status.PENDING, 1, 500)
    assert waiting.last_error == "HTTP 500: database is down"
    # One minute, give or take the jitter.
    assert timedelta(seconds=53) <= waiting.next_attempt_at - start <= timedelta(seconds=67)

    with time_machine.travel(start + timedelta(seconds=40), tick=False):
        assert webhook_deliveries_due() == 0
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert webhook_deliveries_due() == 1

    sent = WebhookDelivery.objects.get()
    assert (sent.status, sent.attempts, sent.last_status_code) == (Status.SUCCEEDED, 2, 200)
    assert len(receiver.requests) == 2
    assert {r.headers["CareOps-Delivery"] for r in receiver.requests} == {str(sent.pk)}


def test_a_receiver_that_does_not_answer_in_time_gets_the_delivery_again_later(
    receiver, workspace_a, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 0.3)
    endpoint_for(workspace_a, receiver.url)
    receiver.script(Reply(200, delay=1.5))

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    waiting = WebhookDelivery.objects.get()
    assert (waiting.status, waiting.attempts, waiting.last_status_code) == (Status.PENDING, 1, None)
    assert waiting.last_error == "No answer within 0.3 s."
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        webhook_deliveries_due()
    assert WebhookDelivery.objects.get().status == Status.SUCCEEDED


def test_a_refused_connection_is_retried_with_a_growing_backoff(
    settings, workspace_a, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    endpoint_for(workspace_a, closed_port_url())
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        webhook_deliveries_due()

    waiting = WebhookDelivery.objects.get()
    assert (waiting.status, waiting.attempts) == (Status.PENDING, 2)
    assert waiting.last_error.startswith("Could not connect")
    # The second failure waits five minutes, give or take the jitter.
    wait = waiting.next_attempt_at - (start + timedelta(minutes=2))
    assert timedelta(minutes=4, seconds=29) <= wait <= timedelta(minutes=5, seconds=31)


def test_a_delivery_out_of_attempts_is_abandoned(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)
    receiver.script(*[503] * delivery.MAX_ATTEMPTS)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    for _ in range(delivery.MAX_ATTEMPTS - 1):
        now += timedelta(days=1)
        with time_machine.travel(now, tick=False):
            webhook_deliveries_due()

    given_up = WebhookDelivery.objects.get()
    assert (given_up.status, given_up.attempts) == (Status.ABANDONED, delivery.MAX_ATTEMPTS)
    assert given_up.next_attempt_at is None
    with time_machine.travel(now + timedelta(days=1), tick=False):
        assert webhook_deliveries_due() == 0
    assert len(receiver.requests) == delivery.MAX_ATTEMPTS


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)
    receiver.script(Reply(301, location="http://169.254.169.254/latest/meta-data/"))

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    waiting = WebhookDelivery.objects.get()
    assert (waiting.status, waiting.last_status_code) == (Status.PENDING, 301)
    assert "redirects are not followed" in waiting.last_error
    assert len(receiver.requests) == 1


# --- Disabling a failing endpoint ---------------------------------------------------------------


def test_an_endpoint_failing_ten_times_in_a_row_is_disabled_with_an_alert_to_the_owners(
    receiver, workspace_a, owner, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    receiver.script(*[500] * delivery.DISABLE_AFTER)
    # Ten events fail once each, in a row (they are all still waiting for their retry)...
    events = [contact_event(workspace_a) for _ in range(delivery.DISABLE_AFTER)]
    for event in events[:-1]:
        dispatch(event, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 9)

    # ...the tenth failure disables the endpoint.
    dispatch(events[-1], django_capture_on_commit_callbacks)

    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_reason == "Disabled after 10 failed attempts in a row."
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert set(deliveries.values_list("status", flat=True)) == {Status.ABANDONED}
    alert = Alert.objects.get(kind=Alert.Kind.WEBHOOK_DISABLED)
    assert (alert.subject_type, alert.subject_id) == ("webhook_endpoint", endpoint.pk)
    assert alert.url == reverse("settings-webhook", args=[endpoint.pk])
    assert alert.is_open
    [email] = [m for m in mail.outbox if owner.email in m.to]  # (the contacts got welcomes)
    assert "disabled" in email.subject
    # Nothing more goes to it: not the retries, not new events.
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert webhook_deliveries_due() == 0
    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)
    assert len(receiver.requests) == delivery.DISABLE_AFTER


def test_a_success_resets_the_count_of_failures_in_a_row(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=9)
    receiver.script(200)

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 0)


def test_enabling_again_resets_the_count_resolves_the_alert_and_sends_new_events_only(
    receiver, workspace_a, owner, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=9)
    receiver.script(500)
    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)
    assert WebhookEndpoint.objects.get().is_active is False

    endpoint = webhook_endpoint_enable(endpoint=endpoint, actor=owner)
    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    assert (endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_at) == (
        True,
        0,
        None,
    )
    assert not Alert.objects.get(kind=Alert.Kind.WEBHOOK_DISABLED).is_open
    statuses = WebhookDelivery.objects.order_by("pk").values_list("status", flat=True)
    assert list(statuses) == [Status.ABANDONED, Status.SUCCEEDED]
    assert len(receiver.requests) == 2


# --- Who receives what --------------------------------------------------------------------------


def test_an_event_goes_only_to_the_workspaces_endpoints_subscribed_to_its_kind(
    receiver, workspace_a, workspace_b, django_capture_on_commit_callbacks
):
    base = receiver.url
    endpoint_for(workspace_a, base + "/bookings", events=[Event.Kind.BOOKING_CREATED])
    endpoint_for(workspace_a, base + "/contacts", events=[Event.Kind.CONTACT_CREATED])
    endpoint_for(workspace_b, base + "/outsider", events=[Event.Kind.CONTACT_CREATED])

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    assert [r.path for r in receiver.requests] == ["/hooks/careops/contacts"]
    assert WebhookDelivery.objects.count() == 1
    assert WebhookDelivery.objects.get().workspace_id == workspace_a.pk


def test_events_no_endpoint_may_choose_are_not_sent(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)
    event = Event.objects.create(
        workspace=workspace_a,
        kind=Event.Kind.FORM_OVERDUE,
        subject_type="form_submission",
        subject_id=1,
    )

    dispatch(event, django_capture_on_commit_callbacks)

    assert receiver.requests == []


def test_an_event_dispatched_twice_is_delivered_once(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)
    event = contact_event(workspace_a)
    dispatch(event, django_capture_on_commit_callbacks)

    # Dispatched again (support's "dispatch again", a redelivered task): no second delivery.
    Event.objects.filter(pk=event.pk).update(dispatched_at=None)
    dispatch(event, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliveries_create(event)

    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_nothing_is_sent_during_the_request_that_caused_the_event(
    receiver, workspace_a, owner_api, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url, events=[Event.Kind.CONTACT_CREATED])

    with django_capture_on_commit_callbacks() as after_commit:
        response = owner_api.post(
            "/api/v1/contacts", {"name": "Ann Lee", "email": "ann@example.org"}, format="json"
        )

    assert response.status_code == 201
    assert receiver.requests == []
    assert WebhookDelivery.objects.count() == 0  # the event waits in the outbox
    assert Event.objects.get().kind == Event.Kind.CONTACT_CREATED
    # After commit: the dispatch task, then the delivery task.
    with django_capture_on_commit_callbacks(execute=True):
        for callback in after_commit:
            callback()
    [request] = receiver.requests
    assert request.json["data"]["contact"]["name"] == "Ann Lee"


def test_with_the_broker_down_the_delivery_waits_and_the_sweep_sends_it_later(
    receiver, workspace_a, django_capture_on_commit_callbacks, monkeypatch
):
    endpoint_for(workspace_a, receiver.url)

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("redis is down")

    with monkeypatch.context() as patch:
        patch.setattr(webhook_deliver, "delay", broker_down)
        dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)
        assert WebhookDelivery.objects.get().status == Status.PENDING
        assert receiver.requests == []
        # The sweep cannot queue it either while the broker is down: it stays.
        with time_machine.travel(timezone.now() + timedelta(minutes=1)):
            assert webhook_deliveries_due() == 0

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert webhook_deliveries_due() == 1

    assert WebhookDelivery.objects.get().status == Status.SUCCEEDED
    assert len(receiver.requests) == 1


# --- Targets checked again at send time ---------------------------------------------------------


def test_a_target_is_checked_again_before_each_attempt(
    receiver, workspace_a, settings, django_capture_on_commit_callbacks
):
    endpoint_for(workspace_a, receiver.url)  # accepted while local targets were allowed
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    waiting = WebhookDelivery.objects.get()
    assert waiting.status == Status.PENDING
    assert waiting.last_error.startswith("Not sent: Enter a URL starting with https://")
    assert receiver.requests == []


def test_a_name_resolving_to_a_private_address_is_not_called_in_production(
    receiver, workspace_a, settings, django_capture_on_commit_callbacks
):
    local_name = receiver.url.replace("127.0.0.1", "localhost").replace("http:", "https:")
    endpoint_for(workspace_a, local_name)  # accepted while local targets were allowed
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    waiting = WebhookDelivery.objects.get()
    assert waiting.status == Status.PENDING
    assert "inside a private network" in waiting.last_error
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address_with_the_urls_host_name(
    receiver, workspace_a, django_capture_on_commit_callbacks
):
    named = receiver.url.replace("127.0.0.1", "localhost")
    endpoint_for(workspace_a, named + "?source=careops")

    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)

    [request] = receiver.requests
    assert request.headers["Host"] == named.split("/")[2]
    assert request.path == "/hooks/careops?source=careops"
    assert WebhookDelivery.objects.get().status == Status.SUCCEEDED


def test_finished_deliveries_are_purged_after_the_retention_period_pending_ones_stay(
    receiver, workspace_a, owner, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(workspace_a, receiver.url)
    receiver.script(200, 500)
    webhook_endpoint_ping(endpoint=endpoint, actor=owner)  # succeeded
    dispatch(contact_event(workspace_a), django_capture_on_commit_callbacks)  # pending retry
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(days=100))

    deleted = webhook_deliveries_purge(days=90)

    assert deleted == 1
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == [Status.PENDING]
