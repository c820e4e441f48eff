"""Handlers that send messages: welcome, confirmation, forms, reminders, pause."""

from __future__ import annotations

from automation.engine import RunResult, handles, reason_truncate
from automation.messages import booking_context, paused_reason, send_automated
from automation.models import AutomationRun, Event, Rule
from automation.reminders import reminder_plan
from bookings.ics import booking_ics, manage_url
from bookings.models import Booking
from careops.errors import InvalidInput
from contacts.models import Contact
from forms.models import FormSubmission, FormTemplate
from forms.selectors import templates_for_booking
from forms.services import form_send
from messaging.models import Conversation

SKIPPED = AutomationRun.Outcome.SKIPPED
DONE = AutomationRun.Outcome.DONE
PAUSED_UNTIL_RESUMED = "Automation paused for this conversation until a staff member resumes it."
NOT_PAUSED = "Automation was not paused: the conversation was resumed, or is gone."

_NOT_LOADED = object()


def _booking(event: Event) -> Booking | None:
    """The event's booking, read once per dispatch: the handlers of one event share the event
    instance (booking.created has three of them). Handlers only read it."""
    booking = event.__dict__.get("_booking", _NOT_LOADED)
    if booking is _NOT_LOADED:
        booking = (
            Booking.objects.for_workspace(event.workspace_id)
            .select_related("workspace", "booking_type", "contact")
            .filter(pk=event.subject_id)
            .first()
        )
        event.__dict__["_booking"] = booking
    return booking


def _gone(event: Event, what: str) -> RunResult:
    # Only ids of rows that still exist: a run pointing at a deleted one fails at commit.
    contact_id = event.payload.get("contact_id")
    contacts = Contact.objects.for_workspace(event.workspace_id)
    if contact_id and not contacts.filter(pk=contact_id).exists():
        contact_id = None
    return RunResult(SKIPPED, f"The {what} no longer exists.", contact_id=contact_id)


def inactive_reason(booking: Booking) -> str:
    return f"The booking is {booking.get_status_display().lower()}."


def _inactive(booking: Booking) -> RunResult:
    return RunResult(
        SKIPPED, inactive_reason(booking), contact_id=booking.contact_id, booking_id=booking.pk
    )


def ics_attachment(booking: Booking) -> dict:
    return {
        "filename": "booking.ics",
        "content_type": "text/calendar",
        "content": booking_ics(booking),
    }


# Contacts who are not welcomed, and why: an import is not someone who just got in touch, and
# someone who booked gets the booking's confirmation instead of a second message.
NO_WELCOME = {
    Contact.Source.IMPORT: "Imported contacts are not sent a welcome.",
    Contact.Source.BOOKING: "Contacts who booked get the booking confirmation instead.",
}


@handles(Event.Kind.CONTACT_CREATED, Rule.Kind.WELCOME)
def welcome(event: Event, rule: Rule) -> RunResult:
    """Welcome a new contact by email, or by SMS when that is all they gave and agreed to."""
    contact = (
        Contact.objects.for_workspace(event.workspace_id)
        .select_related("workspace")
        .filter(pk=event.subject_id)
        .first()
    )
    if contact is None:
        return _gone(event, "contact")
    reason = NO_WELCOME.get(contact.source)
    if reason:
        return RunResult(SKIPPED, reason, contact_id=contact.pk)
    rule.workspace = contact.workspace
    return send_automated(rule=rule, contact=contact, context={})


@handles(Event.Kind.BOOKING_CREATED, Rule.Kind.BOOKING_CONFIRMATION)
def booking_confirmation(event: Event, rule: Rule) -> RunResult:
    """Confirm a booking: when and where, the link to change or cancel it, and (by email) the
    calendar file."""
    booking = _booking(event)
    if booking is None:
        return _gone(event, "booking")
    if not booking.is_active:
        return _inactive(booking)
    rule.workspace = booking.workspace
    return send_automated(
        rule=rule,
        contact=booking.contact,
        context={"booking": booking_context(booking), "link": manage_url(booking)},
        booking=booking,
        attachments=[ics_attachment(booking)],
    )


def booking_forms_to_send(booking: Booking) -> tuple[list[FormTemplate], str]:
    """The forms rule's decision, for its handler and its dry run: the booking's forms not yet
    sent to it (live, linked to its service, with fields), or ([], why none)."""
    if not booking.is_active:
        return [], inactive_reason(booking)
    templates = list(templates_for_booking(booking=booking))
    if not templates:
        return [], f"No forms are linked to {booking.booking_type.name}."
    already = set(
        FormSubmission.objects.for_workspace(booking.workspace_id)
        .filter(booking=booking, template__in=templates)
        .values_list("template_id", flat=True)
    )
    to_send = [t for t in templates if t.pk not in already and t.fields]
    if not to_send:
        return [], "Its forms were already sent."
    return to_send, ""


@handles(Event.Kind.BOOKING_CREATED, Rule.Kind.BOOKING_FORMS)
def booking_forms(event: Event, rule: Rule) -> RunResult:
    """Send the booking's forms not sent to it yet (booking_forms_to_send)."""
    booking = _booking(event)
    if booking is None:
        return _gone(event, "booking")
    ids = {"contact_id": booking.contact_id, "booking_id": booking.pk}
    templates, skip = booking_forms_to_send(booking)
    if skip:
        return RunResult(SKIPPED, skip, **ids)
    reason = paused_reason(booking.workspace, booking.contact)
    if reason:
        return RunResult(SKIPPED, reason, **ids)
    sent: list[str] = []
    not_sent: list[str] = []
    for template in templates:
        try:
            form_send(
                workspace=booking.workspace,
                template=template,
                contact=booking.contact,
                booking=booking,
                source=FormSubmission.Source.BOOKING,
                deliver=True,
            )
        except InvalidInput as exc:  # NoChannel among them: the contact cannot be reached
            problems = [m for messages in exc.fields.values() for m in messages] or [exc.message]
            not_sent.append(f"{template.name} ({' '.join(problems)})")
        else:
            sent.append(template.name)
    if not sent:
        return RunResult(SKIPPED, reason_truncate("Not sent: " + "; ".join(not_sent) + "."), **ids)
    reason = "Sent " + ", ".join(sent) + "."
    if not_sent:
        reason += " Not sent: " + "; ".join(not_sent) + "."
    return RunResult(DONE, reason_truncate(reason), **ids)


@handles(Event.Kind.BOOKING_CREATED, Rule.Kind.BOOKING_REMINDER)
@handles(Event.Kind.BOOKING_RESCHEDULED, Rule.Kind.BOOKING_REMINDER)
@handles(Event.Kind.BOOKING_STATUS_CHANGED, Rule.Kind.BOOKING_REMINDER)
def booking_reminder(event: Event, rule: Rule) -> RunResult:
    """Plan the booking's reminder for its current start (or cancel it: the booking is off)."""
    booking = _booking(event)
    if booking is None:
        return _gone(event, "booking")
    return reminder_plan(booking, rule)


@handles(Event.Kind.STAFF_REPLIED, Rule.Kind.PAUSE_ON_REPLY)
def pause_on_reply(event: Event, rule: Rule) -> RunResult:
    """Messaging paused the conversation when the reply was saved (this rule being on); the run
    records it on the contact's history, or why it is not paused (resumed since, or gone)."""
    conversation = (
        Conversation.objects.for_workspace(event.workspace_id)
        .filter(pk=event.payload.get("conversation_id"))
        .first()
    )
    if conversation is None:
        return _gone(event, "conversation")
    if not conversation.automation_paused:
        return RunResult(SKIPPED, NOT_PAUSED, contact_id=conversation.contact_id)
    return RunResult(DONE, PAUSED_UNTIL_RESUMED, contact_id=conversation.contact_id)
