"""What the webhook tests share: the local receiver fixture and small builders (imported by
the test modules from here)."""

from __future__ import annotations

import pytest

from automation import engine
from automation.models import Event, WebhookEndpoint
from automation.webhooks.events import WEBHOOK_EVENTS
from automation.webhooks.services import webhook_endpoint_create
from automation.webhooks.tests.receiver import Receiver
from contacts.tests.factories import ContactFactory

SECRET = "whsec_test-secret-0123456789abcdef"


@pytest.fixture
def receiver(settings):
    """A local receiver, and the setting that lets tests deliver to 127.0.0.1 over http."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    server = Receiver().start()
    yield server
    server.stop()


def endpoint_for(
    workspace, url: str, *, events=WEBHOOK_EVENTS, secret: str = SECRET, actor=None
) -> WebhookEndpoint:
    return webhook_endpoint_create(
        workspace=workspace, actor=actor, url=url, events=list(events), secret=secret
    )


def contact_event(workspace, **contact_fields) -> Event:
    """A contact.created event in the outbox, not yet dispatched (as a request leaves it)."""
    contact = ContactFactory(workspace=workspace, **contact_fields)
    return Event.objects.create(
        workspace=workspace,
        kind=Event.Kind.CONTACT_CREATED,
        subject_type="contact",
        subject_id=contact.pk,
        payload={"contact_id": contact.pk},
    )


def dispatch(event: Event, capture) -> None:
    """Dispatch the event and run what its commit would start (the delivery tasks, eagerly)."""
    with capture(execute=True):
        engine.event_dispatch(event.pk)
