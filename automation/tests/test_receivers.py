"""Each domain's change records its event in the same transaction, through the real services
(nothing is dispatched here: on-commit work is not run)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from automation.models import Event, Rule
from automation.rules import rules_for
from bookings.models import Booking
from bookings.services import booking_create, booking_reschedule, booking_set_status
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.models import Contact
from contacts.services import contact_create
from contacts.tests.factories import ContactFactory
from forms.services import submission_submit, submissions_mark_overdue
from forms.tests.factories import FormSubmissionFactory
from inventory.models import InventoryItem, InventoryUsage
from inventory.services import stock_move
from inventory.tests.factories import InventoryItemFactory
from messaging.models import Conversation, Message
from messaging.services import message_send
from messaging.tests.factories import ConversationFactory

ANSWERS = {
    "full_name": "Ann Lee",
    "visit": "Yes",
    "consent": True,
    "signature": "Ann Lee",
}


def test_creating_a_contact_records_one_contact_created_event_in_its_transaction(
    workspace_a, owner
):
    with transaction.atomic():
        contact = contact_create(workspace=workspace_a, actor=owner, name="Ann Lee")
        # Already there before the commit: it commits (or not) with the contact.
        event = Event.objects.get()

    assert (event.workspace, event.kind) == (workspace_a, Event.Kind.CONTACT_CREATED)
    assert (event.subject_type, event.subject_id) == ("contact", contact.pk)
    assert event.payload == {"contact_id": contact.pk}
    assert event.dispatched_at is None


def test_a_contact_creation_that_rolls_back_leaves_no_event(workspace_a, owner):
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_create(workspace=workspace_a, actor=owner, name="Ann Lee")
        raise RuntimeError("something later in the request failed")

    assert not Contact.objects.exists()
    assert not Event.objects.exists()


def test_the_dispatch_is_queued_for_after_the_commit(
    workspace_a, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        contact_create(workspace=workspace_a, actor=owner, name="Ann Lee")

    assert len(callbacks) == 1
    assert Event.objects.get().dispatched_at is None  # not run: only queued


def test_a_booking_created_rescheduled_and_cancelled_records_its_events(workspace_a, owner):
    contact = ContactFactory(workspace=workspace_a)
    booking_type = BookingTypeFactory(workspace=workspace_a)
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

    booking, _ = booking_create(
        workspace=workspace_a,
        booking_type=booking_type,
        contact=contact,
        start=start,
        actor=owner,
        enforce_rules=False,
    )
    booking_reschedule(
        booking=booking, start=start + timedelta(days=1), actor=owner, enforce_rules=False
    )
    booking_set_status(booking=booking, status=Booking.Status.CANCELLED, actor=owner)

    created, rescheduled, changed = Event.objects.order_by("pk")
    about = {"contact_id": contact.pk, "booking_id": booking.pk}
    assert (created.kind, created.subject_type, created.subject_id) == (
        Event.Kind.BOOKING_CREATED,
        "booking",
        booking.pk,
    )
    assert created.payload == about
    assert rescheduled.kind == Event.Kind.BOOKING_RESCHEDULED
    assert rescheduled.payload == {
        **about,
        "previous_start": start.isoformat(),
        "start": (start + timedelta(days=1)).isoformat(),
    }
    assert changed.kind == Event.Kind.BOOKING_STATUS_CHANGED
    assert changed.payload == {**about, "previous_status": "confirmed", "status": "cancelled"}


def test_a_submitted_form_records_form_submitted(workspace_a):
    submission = FormSubmissionFactory(workspace=workspace_a)

    submission_submit(submission=submission, data=ANSWERS)

    event = Event.objects.get()
    assert (event.kind, event.subject_type, event.subject_id) == (
        Event.Kind.FORM_SUBMITTED,
        "form_submission",
        submission.pk,
    )
    assert event.payload == {
        "contact_id": submission.contact_id,
        "booking_id": None,
        "template_id": submission.template_id,
    }


def test_a_form_marked_overdue_records_form_overdue(workspace_a):
    booking = BookingFactory(workspace=workspace_a)
    submission = FormSubmissionFactory(
        workspace=workspace_a, contact=booking.contact, booking=booking
    )

    with time_machine.travel(submission.due_at + timedelta(minutes=1)):
        assert submissions_mark_overdue() == 1

    event = Event.objects.get()
    assert (event.kind, event.subject_type, event.subject_id) == (
        Event.Kind.FORM_OVERDUE,
        "form_submission",
        submission.pk,
    )
    assert event.payload["booking_id"] == booking.pk


def test_a_staff_reply_records_staff_replied_with_its_conversation(workspace_a, staff):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))

    message = message_send(conversation=conversation, body="See you then.", actor=staff)

    event = Event.objects.get()
    assert (event.kind, event.subject_type, event.subject_id) == (
        Event.Kind.STAFF_REPLIED,
        "message",
        message.pk,
    )
    assert event.payload == {
        "conversation_id": conversation.pk,
        "contact_id": conversation.contact_id,
    }


def test_an_automated_message_is_not_a_staff_reply(workspace_a):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))

    message_send(
        conversation=conversation,
        body="Welcome!",
        sender_kind=Message.SenderKind.AUTOMATION,
        sender_reference="rule:1",
    )

    assert not Event.objects.exists()
    conversation.refresh_from_db()
    assert conversation.automation_paused is False


def test_a_staff_reply_pauses_automation_while_the_pause_rule_is_on(workspace_a, staff):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))

    message_send(conversation=conversation, body="I'll take it from here.", actor=staff)

    assert Conversation.objects.get(pk=conversation.pk).automation_paused is True


def test_a_staff_reply_leaves_automation_running_when_the_pause_rule_is_off(workspace_a, staff):
    rule = rules_for(workspace_a)[Rule.Kind.PAUSE_ON_REPLY]
    Rule.objects.filter(pk=rule.pk).update(is_enabled=False)
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))

    message_send(conversation=conversation, body="Noted, thanks.", actor=staff)

    assert Conversation.objects.get(pk=conversation.pk).automation_paused is False
    assert Event.objects.get().kind == Event.Kind.STAFF_REPLIED  # still recorded


def test_a_staff_reply_in_a_workspace_without_rules_yet_pauses_and_creates_no_rule(
    workspace_a, staff
):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))

    message_send(conversation=conversation, body="I'll take it from here.", actor=staff)

    assert Conversation.objects.get(pk=conversation.pk).automation_paused is True
    assert not Rule.objects.exists()  # the reply's transaction only read


def test_stock_falling_to_its_threshold_records_stock_low_once(workspace_a, staff):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=10, low_stock_threshold=2)

    stock_move(item=item, kind=InventoryUsage.Kind.USAGE, quantity=8, actor=staff)
    item = InventoryItem.objects.get(pk=item.pk)
    stock_move(item=item, kind=InventoryUsage.Kind.USAGE, quantity=1, actor=staff)  # still low

    event = Event.objects.get()
    assert (event.kind, event.subject_type, event.subject_id) == (
        Event.Kind.STOCK_LOW,
        "inventory_item",
        item.pk,
    )
    assert event.payload == {"quantity_on_hand": 2}  # as it was when it fell


def test_events_belong_to_the_workspace_of_their_change(workspace_a, workspace_b, owner):
    contact_create(workspace=workspace_b, actor=owner, name="Bob Stone")

    assert Event.objects.for_workspace(workspace_a).count() == 0
    assert Event.objects.for_workspace(workspace_b).count() == 1
