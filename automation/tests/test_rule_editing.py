"""Owners edit a rule's switch, texts and timing (rule_update), and try it on a contact or a
booking without sending anything (rule_dry_run)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.dry_run import rule_dry_run
from automation.models import Reminder, Rule
from automation.reminders import reminder_plan
from automation.rules import rule_update, rules_for
from automation.tasks import automation_send_due_reminders
from bookings.ics import manage_url
from bookings.models import Booking
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from messaging.models import Conversation
from messaging.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

MONDAY_NOON = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)
THURSDAY_NOON = datetime(2031, 3, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _monday_noon():
    with time_machine.travel(MONDAY_NOON, tick=False):
        yield


@pytest.fixture
def rules(workspace_a) -> dict[str, Rule]:
    return rules_for(workspace_a)


@pytest.fixture
def contact(workspace_a):
    return ContactFactory(workspace=workspace_a, name="Dana Client", email="dana@example.org")


@pytest.fixture
def booking(workspace_a, contact) -> Booking:
    booking_type = BookingTypeFactory(workspace=workspace_a, name="Massage", location="Room 2")
    return BookingFactory(
        workspace=workspace_a, booking_type=booking_type, contact=contact, start=THURSDAY_NOON
    )


def refused(**changes) -> dict[str, list[str]]:
    """The field errors rule_update answers these changes of the rule with."""
    rule = changes.pop("rule")
    with pytest.raises(InvalidInput) as caught:
        rule_update(rule=rule, actor=None, **changes)
    return caught.value.fields


def writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


# --- rule_update ------------------------------------------------------------------------------


def test_owners_edit_a_rules_texts_and_switch(rules, owner):
    rule = rules[Rule.Kind.WELCOME]

    rule_update(
        rule=rule,
        actor=owner,
        subject="Hello from {{ workspace.name }}",
        body="Hi {{ contact.first_name }}!",
        sms_body="Hi!",
        is_enabled=False,
    )

    rule.refresh_from_db()
    assert (rule.subject, rule.body, rule.sms_body, rule.is_enabled) == (
        "Hello from {{ workspace.name }}",
        "Hi {{ contact.first_name }}!",
        "Hi!",
        False,
    )


def test_bad_template_syntax_is_refused_naming_the_field(rules):
    rule = rules[Rule.Kind.WELCOME]

    errors = refused(rule=rule, body="Hi {% if contact.name %}", subject="Fine")

    assert list(errors) == ["body"]
    rule.refresh_from_db()
    assert rule.subject == "Welcome to {{ workspace.name }}"  # nothing saved


def test_an_unknown_variable_in_the_subject_is_refused_naming_the_subject(rules):
    errors = refused(rule=rules[Rule.Kind.WELCOME], subject="Hi {{ client.name }}")

    assert list(errors) == ["subject"]
    assert "Unknown variable “client.name”" in errors["subject"][0]


def test_a_forbidden_tag_in_the_sms_text_is_refused_naming_the_sms_text(rules):
    errors = refused(rule=rules[Rule.Kind.BOOKING_REMINDER], sms_body="{% load static %}x")

    assert list(errors) == ["sms_body"]


def test_a_message_rule_needs_its_texts(rules):
    errors = refused(rule=rules[Rule.Kind.WELCOME], body=" ", sms_body="")

    assert errors == {"body": ["Write the email's text."], "sms_body": ["Write the text message."]}


@pytest.mark.parametrize("offset", [4, 60 * 24 * 30 + 1, "soon", True, None, 1.5])
def test_the_reminder_offset_is_between_5_minutes_and_30_days(rules, offset):
    errors = refused(rule=rules[Rule.Kind.BOOKING_REMINDER], offset_minutes=offset)

    assert list(errors) == ["offset_minutes"]


@pytest.mark.parametrize("offset", [5, 60 * 24 * 30, "90"])
def test_offsets_at_the_bounds_are_accepted(rules, owner, offset):
    rule = rule_update(rule=rules[Rule.Kind.BOOKING_REMINDER], actor=owner, offset_minutes=offset)

    rule.refresh_from_db()
    assert rule.offset_minutes == int(offset)


def test_quiet_hours_are_both_set_or_both_empty(rules, owner):
    rule = rules[Rule.Kind.BOOKING_REMINDER]

    assert refused(rule=rule, quiet_start=None) == {
        "quiet_start": ["Set both ends of the quiet hours, or neither."]
    }
    assert list(refused(rule=rule, quiet_start="22:00", quiet_end="22:00")) == ["quiet_end"]
    assert list(refused(rule=rule, quiet_end="25:00")) == ["quiet_end"]

    rule_update(rule=rule, actor=owner, quiet_start="22:30", quiet_end=time(7))
    rule.refresh_from_db()
    assert (rule.quiet_start, rule.quiet_end) == (time(22, 30), time(7))
    rule_update(rule=rule, actor=owner, quiet_start="", quiet_end=None)
    rule.refresh_from_db()
    assert (rule.quiet_start, rule.quiet_end) == (None, None)


def test_a_setting_of_another_rule_is_refused_unless_unchanged(rules, owner):
    welcome = rules[Rule.Kind.WELCOME]

    assert list(refused(rule=welcome, offset_minutes=60)) == ["offset_minutes"]
    assert list(refused(rule=welcome, email_owners=True)) == ["email_owners"]
    assert list(refused(rule=welcome, kind="stock_low")) == ["kind"]
    # A form posting every field sends the ones that do not apply unchanged: ignored.
    rule_update(rule=welcome, actor=owner, offset_minutes=24 * 60, email_owners=False)
    rule_update(rule=rules[Rule.Kind.STOCK_LOW], actor=owner, email_owners=True)
    assert Rule.objects.get(kind=Rule.Kind.STOCK_LOW, workspace=welcome.workspace).email_owners


def test_changing_the_offset_replans_the_planned_reminders(
    rules, owner, booking, django_capture_on_commit_callbacks
):
    rule = rules[Rule.Kind.BOOKING_REMINDER]
    reminder_plan(booking, rule)

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(rule=rule, actor=owner, offset_minutes=120)

    by_offset = {r.offset_minutes: r for r in Reminder.objects.filter(booking=booking)}
    assert by_offset[24 * 60].status == Reminder.Status.CANCELLED
    assert by_offset[24 * 60].reason == "The reminder time was changed."
    assert by_offset[120].status == Reminder.Status.PLANNED
    assert by_offset[120].due_at == THURSDAY_NOON - timedelta(hours=2)


def test_switching_reminders_on_plans_them_for_bookings_made_while_off(
    rules, owner, booking, django_capture_on_commit_callbacks
):
    rule = rules[Rule.Kind.BOOKING_REMINDER]
    rule_update(rule=rule, actor=owner, is_enabled=False)
    assert not Reminder.objects.exists()

    with django_capture_on_commit_callbacks(execute=True) as queued:
        rule_update(rule=rule, actor=owner, is_enabled=True)

    assert len(queued) == 1  # the re-plan is a task queued after the commit
    assert Reminder.objects.get(booking=booking).status == Reminder.Status.PLANNED


def test_switching_reminders_on_only_saves_the_rule_in_the_request(
    workspace_a, rules, owner, django_assert_max_num_queries
):
    rule = rules[Rule.Kind.BOOKING_REMINDER]
    rule_update(rule=rule, actor=owner, is_enabled=False)
    booking_type = BookingTypeFactory(workspace=workspace_a)
    for hour in range(30):
        BookingFactory(
            workspace=workspace_a,
            booking_type=booking_type,
            start=THURSDAY_NOON + timedelta(hours=hour),
        )

    # 3 queries: savepoint, the rule's update, release; the re-plan is queued on commit
    with django_assert_max_num_queries(3):
        rule_update(rule=rule, actor=owner, is_enabled=True)
    assert not Reminder.objects.exists()


def test_a_replan_whose_task_was_lost_is_done_by_the_reminders_sweep(workspace_a, rules, owner):
    rule = rules[Rule.Kind.BOOKING_REMINDER]
    rule_update(rule=rule, actor=owner, is_enabled=False)
    booking = BookingFactory(
        workspace=workspace_a,
        booking_type=BookingTypeFactory(workspace=workspace_a),
        start=THURSDAY_NOON + timedelta(days=2),
    )
    # The on-commit task is never run here: as if the broker had been down.
    rule_update(rule=rule, actor=owner, is_enabled=True)
    assert not Reminder.objects.exists()

    automation_send_due_reminders()

    assert Reminder.objects.get().booking == booking
    rule.refresh_from_db()
    assert rule.replan_requested_at is None
    automation_send_due_reminders()  # a second sweep plans nothing more
    assert Reminder.objects.count() == 1


# --- rule_dry_run -----------------------------------------------------------------------------


def test_a_dry_run_shows_the_welcome_it_would_send_and_writes_nothing(
    rules, contact, django_assert_max_num_queries
):
    rule = rules[Rule.Kind.WELCOME]

    # 2 queries: the rule's workspace, the contact's conversation (none yet)
    with django_assert_max_num_queries(2), CaptureQueriesContext(connection) as queries:
        result = rule_dry_run(rule=rule, contact=contact)

    assert writes(queries) == []
    assert result["would"] == "send"
    assert (result["channel"], result["to"]) == ("email", "dana@example.org")
    assert result["subject"] == "Welcome to Alpha Clinic"
    assert result["body"].startswith("Hi Dana,")
    assert result["attachments"] == []
    assert result["reason"] == "Would send by email to dana@example.org."
    assert not Conversation.objects.exists()


def test_a_dry_run_of_the_confirmation_lists_the_calendar_file(rules, booking):
    with CaptureQueriesContext(connection) as queries:
        result = rule_dry_run(rule=rules[Rule.Kind.BOOKING_CONFIRMATION], booking=booking)

    assert writes(queries) == []
    assert result["would"] == "send"
    assert result["attachments"] == ["booking.ics"]
    assert result["subject"] == "Booked: Massage on Thursday 6 March"
    assert f"To reschedule or cancel: {manage_url(booking)}" in result["body"]


def test_a_dry_run_of_the_reminder_says_when_it_would_go(rules, booking):
    with CaptureQueriesContext(connection) as queries:
        result = rule_dry_run(rule=rules[Rule.Kind.BOOKING_REMINDER], booking=booking)

    assert writes(queries) == []
    assert result["would"] == "send"
    assert result["when"] == "Wednesday 5 March, 12:00"
    assert result["due_at"] == (THURSDAY_NOON - timedelta(hours=24)).isoformat()
    assert (
        result["reason"] == "Would send by email to dana@example.org at Wednesday 5 March, 12:00."
    )
    assert not Reminder.objects.exists()


def test_a_dry_run_for_a_paused_conversation_gives_the_skip_reason(rules, contact):
    ConversationFactory(contact=contact, automation_paused=True)

    result = rule_dry_run(rule=rules[Rule.Kind.WELCOME], contact=contact)

    assert result["would"] == "skip"
    assert result["reason"] == "Automation is paused for this conversation: a staff member replied."


def test_a_dry_run_of_a_switched_off_rule_would_skip_but_shows_the_message(rules, owner, contact):
    rule = rule_update(rule=rules[Rule.Kind.WELCOME], actor=owner, is_enabled=False)

    result = rule_dry_run(rule=rule, contact=contact)

    assert (result["would"], result["reason"]) == ("skip", "This rule is switched off.")
    assert result["subject"] == "Welcome to Alpha Clinic"


def test_a_dry_run_of_a_cancelled_booking_would_skip(rules, booking):
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
    booking.refresh_from_db()

    result = rule_dry_run(rule=rules[Rule.Kind.BOOKING_CONFIRMATION], booking=booking)

    assert (result["would"], result["reason"]) == ("skip", "The booking is cancelled.")


def test_a_dry_run_needs_a_booking_for_booking_rules_and_a_contact_for_the_welcome(rules):
    for kind in (Rule.Kind.BOOKING_CONFIRMATION, Rule.Kind.BOOKING_FORMS):
        with pytest.raises(InvalidInput) as caught:
            rule_dry_run(rule=rules[kind])
        assert list(caught.value.fields) == ["booking_id"]
    with pytest.raises(InvalidInput) as caught:
        rule_dry_run(rule=rules[Rule.Kind.WELCOME])
    assert list(caught.value.fields) == ["contact_id"]


def test_a_dry_run_on_another_workspaces_booking_is_refused(rules, workspace_b):
    theirs = BookingFactory(workspace=workspace_b, start=THURSDAY_NOON)

    with pytest.raises(InvalidInput) as caught:
        rule_dry_run(rule=rules[Rule.Kind.BOOKING_CONFIRMATION], booking=theirs)

    assert list(caught.value.fields) == ["booking_id"]


def test_a_dry_run_of_the_forms_rule_names_the_forms_not_yet_sent(workspace_a, rules, booking):
    intake = FormTemplateFactory(
        workspace=workspace_a, name="Intake", booking_types=[booking.booking_type]
    )
    FormTemplateFactory(workspace=workspace_a, name="Consent", booking_types=[booking.booking_type])
    rule = rules[Rule.Kind.BOOKING_FORMS]

    result = rule_dry_run(rule=rule, booking=booking)
    assert (result["would"], result["forms"]) == ("send", ["Consent", "Intake"])
    assert result["reason"] == "Would send Consent, Intake."

    FormSubmissionFactory(
        workspace=workspace_a, template=intake, contact=booking.contact, booking=booking
    )
    assert rule_dry_run(rule=rule, booking=booking)["forms"] == ["Consent"]


def test_a_dry_run_of_an_alert_rule_says_what_it_would_do(rules, owner):
    stock = rule_update(rule=rules[Rule.Kind.STOCK_LOW], actor=owner, email_owners=True)

    result = rule_dry_run(rule=stock)

    assert result["would"] == "act"
    assert result["reason"] == (
        "An item below its threshold would raise an alert for staff, a critical one when it is "
        "out or short for the next day's bookings, and email the owners."
    )


def test_a_dry_run_of_a_reminder_the_sweep_already_sent_says_so(
    rules, booking, django_capture_on_commit_callbacks
):
    from automation.reminders import reminders_send_due

    rule = rules[Rule.Kind.BOOKING_REMINDER]
    reminder_plan(booking, rule)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send_due(now=THURSDAY_NOON - timedelta(hours=24))

    result = rule_dry_run(rule=rule, booking=booking)

    assert (result["would"], result["reason"]) == (
        "skip",
        "The reminder for this start was already sent.",
    )


def test_a_dry_run_of_a_reminder_the_sweep_skipped_gives_the_sweeps_reason(rules, booking, contact):
    from automation.reminders import reminders_send_due

    rule = rules[Rule.Kind.BOOKING_REMINDER]
    reminder_plan(booking, rule)
    conversation = ConversationFactory(contact=contact, automation_paused=True)
    reminders_send_due(now=THURSDAY_NOON - timedelta(hours=24))
    conversation.automation_paused = False
    conversation.save(update_fields=["automation_paused"])

    result = rule_dry_run(rule=rule, booking=booking)

    assert (result["would"], result["reason"]) == (
        "skip",
        "Automation is paused for this conversation: a staff member replied.",
    )
