"""A whole running business in one call: a workspace with at least one row in every table a
workspace owns, made the way the product makes them (services where they exist, the apps'
factories where a service would need the outside world).

    from tests.full_data import full_workspace

    def test_something(settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path          # the intake form's uploaded file goes there
        a = full_workspace(name="Alpha Clinic", slug="alpha-clinic")
        b = full_workspace(name="Bravo Salon", slug="bravo-salon")
        ...a.workspace, a.owner, a.staff, a.booking, a.upload, a.secrets...

Two calls in one test make two independent workspaces (users, contact emails, SKUs and
secrets are unique per call), so it suits tenancy tests: "B's rows are untouched", "A's
export names nothing of B". `tests/test_workspace_export_delete.py` checks that every
workspace-owned table (found by careops.workspace_data, so a model added later is included)
has a row here: a new model fails that test until this builder makes one of it.

What it holds (see FullWorkspace): the workspace (live), its owner and a staff member, a
pending invitation; tags and contacts (with tags, consent, custom fields) and a merge; an
email and an SMS integration with credentials, a message template, a conversation with an
inbound message, a staff reply and a failed outbound message; two services (one delivered by
the staff member, sending the intake form), opening hours and a closed day, bookings with
status history (confirmed, completed, cancelled), the staff member's calendar feed; an intake
form with a pending and a completed submission (with an uploaded PDF); stock items with their
ledger (opening stock, a usage, a booking's consumption) and one that fell low; automation's
rules, the events all this raised, dispatched into runs and reminders (and deliveries to a
webhook endpoint, waiting), and open alerts (the low item's posted to the owners' inbox).

Events are dispatched in the test's transaction by calling the engine (on-commit work does
not run in an ordinary test); message deliveries and emails stay queued.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile

from automation.alerts import alert_raise, inventory_check
from automation.engine import event_dispatch
from automation.models import Alert, Event, Rule, WebhookEndpoint
from automation.rules import rules_for
from automation.webhooks.events import WEBHOOK_EVENTS
from automation.webhooks.services import webhook_endpoint_create
from bookings import setup_services
from bookings.feeds import calendar_feed_get_or_create
from bookings.models import Booking, BookingType, CalendarFeed
from bookings.services import booking_create, booking_set_status
from contacts.models import Contact, ContactMerge, Tag
from contacts.services import contact_create, contact_merge
from forms.models import FormSubmission, FormTemplate, FormUpload
from forms.services import form_send, submission_submit, template_create
from forms.tests.factories import INTAKE_FIELDS
from inventory.models import InventoryItem, InventoryUsage
from inventory.services import consumption_set, item_create, stock_move
from messaging import integrations, message_templates
from messaging.models import (
    Channel,
    Conversation,
    InboxNotice,
    Integration,
    Message,
    MessageTemplate,
)
from messaging.services import message_receive, message_send
from messaging.tests.factories import failed_outbound
from workspaces.models import Invitation, Membership, User, Workspace
from workspaces.services import invitation_create
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory, make_live

# A small but real PDF: the upload check reads the content, not the name.
REFERRAL_PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n% referral letter\n"


@dataclass
class FullWorkspace:
    """What full_workspace made, for tests to aim at. Every list holds rows of this
    workspace only; `secrets` holds the clear values of every secret it stored (integration
    credentials and webhook keys, the feed token, booking and form link nonces), so a test
    can check none of them leaks (an export, a page, a log)."""

    workspace: Workspace
    owner: User
    staff: User
    invitation: Invitation
    tags: list[Tag]
    contacts: list[Contact]
    merge: ContactMerge
    email_integration: Integration
    sms_integration: Integration
    message_template: MessageTemplate
    conversation: Conversation
    inbound: Message
    reply: Message
    failed: Message
    booking_types: list[BookingType]
    booking: Booking  # confirmed, upcoming, on the staff member's calendar
    completed_booking: Booking
    cancelled_booking: Booking
    feed: CalendarFeed
    form_template: FormTemplate
    submission: FormSubmission  # completed, with `upload`
    pending_submission: FormSubmission
    upload: FormUpload
    items: list[InventoryItem]
    rules: dict[str, Rule]
    alerts: list[Alert]
    notice: InboxNotice  # the low item's alert, posted to the owners' inbox
    webhook_endpoint: WebhookEndpoint  # subscribed to every event, with their deliveries
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def members(self) -> list[User]:
        return [self.owner, self.staff]

    @property
    def contact(self) -> Contact:
        """The main client: tagged, with the conversation, the bookings and the forms."""
        return self.contacts[0]


def _at(day_offset: int, hour: int, workspace: Workspace) -> datetime:
    """A round hour on the workspace's clock, `day_offset` days from today."""
    day = workspace.today() + timedelta(days=day_offset)
    return datetime.combine(day, time(hour), tzinfo=workspace.zone)


def full_workspace(
    *,
    name: str = "Alpha Clinic",
    slug: str = "alpha-clinic",
    live: bool = True,
    password: str | None = None,
) -> FullWorkspace:
    """A workspace with one or more rows of every workspace-owned model (module docstring).
    Point MEDIA_ROOT at a temporary folder first: one intake form carries an uploaded file.

    The owner and the staff member have no usable password unless `password` is given
    (hashing one takes longer than building the rest): sign them in with `force_login` or
    `api_client_for`, or pass workspaces.tests.factories.PASSWORD to test a real sign-in."""
    unique = secrets.token_hex(3)  # keeps addresses and secrets apart between two calls
    workspace = WorkspaceFactory(name=name, slug=slug, timezone="Europe/London")
    if live:
        make_live(workspace)
    owner = MembershipFactory(
        workspace=workspace,
        role=Membership.Role.OWNER,
        user__name=f"{name} Owner",
        user__password=password,
    ).user
    staff = MembershipFactory(
        workspace=workspace,
        role=Membership.Role.STAFF,
        user__name=f"{name} Staff",
        user__password=password,
    ).user
    invitation = invitation_create(
        workspace=workspace, actor=owner, email=f"invitee-{unique}@{slug}.example"
    )

    # Contacts: tagged, with consent; a duplicate folded into the main one.
    ada = contact_create(
        workspace=workspace,
        actor=owner,
        name="Ada Lovelace",
        email=f"ada-{unique}@example.org",
        # +44 77008…: apart from ContactFactory's +44 77009… sequence, which a test may add here.
        phone=f"+4477008{secrets.randbelow(100_000):05d}",
        tags=["vip", "new client"],
        custom_fields={"referrer": "GP"},
        notes="Prefers mornings.",
        email_consent=True,
        sms_consent=True,
    )
    grace = contact_create(
        workspace=workspace,
        actor=staff,
        name="Grace Hopper",
        email=f"grace-{unique}@example.org",
        tags=["vip"],
        email_consent=True,
    )
    duplicate = contact_create(
        workspace=workspace, actor=staff, name="Ada L.", email=f"ada.l-{unique}@example.org"
    )
    merge = contact_merge(survivor=ada, merged=duplicate, actor=owner)
    tags = list(Tag.objects.for_workspace(workspace).order_by("name"))

    # Messaging: providers with credentials, a canned reply, a conversation both ways.
    credentials = {
        "resend_api_key": f"re_live_{secrets.token_hex(12)}",
        "twilio_auth_token": secrets.token_hex(16),
    }
    email_integration = integrations.integration_create(
        workspace=workspace,
        actor=owner,
        provider="resend",
        credentials={"api_key": credentials["resend_api_key"]},
        from_address=f"hello@{slug}.example",
    )
    sms_integration = integrations.integration_create(
        workspace=workspace,
        actor=owner,
        provider="twilio",
        credentials={
            "account_sid": f"AC{secrets.token_hex(16)}",
            "auth_token": credentials["twilio_auth_token"],
        },
        from_address="+442079460958",
    )
    message_template = message_templates.template_create(
        workspace=workspace,
        actor=owner,
        name="Thanks for getting in touch",
        subject="Thanks, {{ contact.first_name }}",
        body="Hi {{ contact.first_name }}, thanks for contacting {{ workspace.name }}.",
    )
    inbound, _ = message_receive(
        workspace=workspace,
        contact=ada,
        channel=Channel.EMAIL,
        body="Do you have anything on Saturday morning?",
        subject="Saturday?",
        from_address=ada.email,
    )
    conversation = inbound.conversation
    reply = message_send(
        conversation=conversation, actor=staff, body="Yes, 10:00 is free.", channel=Channel.EMAIL
    )
    failed = failed_outbound(conversation)

    # Bookings: two services, hours, a closed day, bookings through their statuses.
    massage = setup_services.booking_type_save(
        workspace=workspace, name="Sports massage", duration_minutes=60, price_display="£60"
    )
    physio = setup_services.booking_type_save(
        workspace=workspace,
        name="Physio session",
        duration_minutes=45,
        buffer_after_minutes=15,
        staff_ids=[staff.pk],
    )
    for weekday in range(5):
        setup_services.working_hours_save(
            workspace=workspace,
            staff_id=None,
            weekday=weekday,
            start_time=time(9),
            end_time=time(17),
        )
    setup_services.working_hours_save(
        workspace=workspace, staff_id=staff.pk, weekday=0, start_time=time(9), end_time=time(13)
    )
    setup_services.availability_override_save(
        workspace=workspace,
        staff_id=None,
        date=workspace.today() + timedelta(days=20),
        note="Bank holiday",
    )

    # Stock, and what the physio session uses (consumed when one is completed, below).
    towels = item_create(
        workspace=workspace,
        actor=owner,
        name="Couch roll",
        sku=f"ROLL-{unique}",
        unit="roll",
        quantity_on_hand=12,
        low_stock_threshold=4,
    )
    oil = item_create(
        workspace=workspace,
        actor=owner,
        name="Massage oil",
        sku=f"OIL-{unique}",
        unit="bottle",
        quantity_on_hand=3,
        low_stock_threshold=2,
    )
    consumption_set(booking_type=physio, item=towels, quantity=1, actor=owner)
    stock_move(item=oil, kind=InventoryUsage.Kind.USAGE, quantity=1, actor=staff, note="Opened")

    booking, _ = booking_create(
        workspace=workspace,
        booking_type=physio,
        contact=ada,
        start=_at(3, 10, workspace),
        staff=staff,
        actor=staff,
        enforce_rules=False,
        notes="First visit.",
    )
    completed_booking, _ = booking_create(
        workspace=workspace,
        booking_type=physio,
        contact=ada,
        start=_at(-2, 10, workspace),
        staff=staff,
        actor=staff,
        enforce_rules=False,
    )
    booking_set_status(booking=completed_booking, status=Booking.Status.COMPLETED, actor=staff)
    cancelled_booking, _ = booking_create(
        workspace=workspace,
        booking_type=massage,
        contact=grace,
        start=_at(5, 14, workspace),
        actor=owner,
        enforce_rules=False,
    )
    booking_set_status(
        booking=cancelled_booking, status=Booking.Status.CANCELLED, actor=owner, note="Unwell"
    )
    feed = calendar_feed_get_or_create(workspace=workspace, staff=staff)

    # Forms: the intake form the physio session sends; one filled in with a file.
    form_template = template_create(
        workspace=workspace,
        actor=owner,
        name="New client intake",
        fields=[dict(f) for f in INTAKE_FIELDS],
        booking_type_ids=[physio.pk],
    )
    submission = form_send(
        workspace=workspace,
        template=form_template,
        contact=ada,
        booking=booking,
        actor=staff,
        deliver=False,
    )
    submission_submit(
        submission=submission,
        data={
            "full_name": ada.name,
            "email": ada.email,
            "visit": "Yes",
            "areas": ["Back"],
            "consent": True,
            "signature": ada.name,
        },
        files={
            "referral": SimpleUploadedFile(
                "Referral letter.pdf", REFERRAL_PDF, content_type="application/pdf"
            )
        },
        ip="203.0.113.7",
    )
    submission.refresh_from_db()
    pending_submission = form_send(
        workspace=workspace, template=form_template, contact=grace, actor=owner, deliver=False
    )

    # Automation: the rules, a webhook endpoint, every event raised above acted on (and queued
    # for the endpoint), and the alerts.
    rules = rules_for(workspace)
    # The stock rule posts to the owners' inbox too: the low item's alert becomes a notice.
    Rule.objects.filter(pk=rules["stock_low"].pk).update(inbox_owners=True)
    rules["stock_low"].inbox_owners = True
    webhook_secret = f"whsec_{secrets.token_hex(16)}"
    webhook_endpoint = webhook_endpoint_create(
        workspace=workspace,
        actor=owner,
        url=f"https://hooks.{slug}.example/careops",
        events=list(WEBHOOK_EVENTS),
        secret=webhook_secret,
    )
    events = Event.objects.for_workspace(workspace).order_by("pk")
    for event_id in events.values_list("pk", flat=True):
        event_dispatch(event_id)
    alert_raise(
        workspace=workspace,
        kind=Alert.Kind.FORM_OVERDUE,
        subject_type="form_submission",
        subject_id=pending_submission.pk,
        message=f"{pending_submission.template_name} for {grace} is overdue.",
    )
    # Where on-commit work runs at once (a live server's tests), the stock event was dispatched
    # before the rule posted to the inbox: the hourly check posts what the event did not.
    inventory_check()
    alerts = list(Alert.objects.for_workspace(workspace).order_by("pk"))
    notice = InboxNotice.objects.for_workspace(workspace).get()

    booking.refresh_from_db()
    completed_booking.refresh_from_db()
    cancelled_booking.refresh_from_db()
    email_integration.refresh_from_db()
    sms_integration.refresh_from_db()
    feed.refresh_from_db()
    secrets_in_clear = {
        **credentials,
        "twilio_account_sid": sms_integration.credentials["account_sid"],
        "email_webhook_key": email_integration.webhook_key,
        "sms_webhook_key": sms_integration.webhook_key,
        "feed_token": feed.token,
        "booking_manage_nonce": booking.manage_nonce,
        "submission_token_nonce": submission.token_nonce,
        "pending_submission_token_nonce": pending_submission.token_nonce,
        "webhook_secret": webhook_secret,
    }
    return FullWorkspace(
        workspace=workspace,
        owner=owner,
        staff=staff,
        invitation=invitation,
        tags=tags,
        contacts=[ada, grace],
        merge=merge,
        email_integration=email_integration,
        sms_integration=sms_integration,
        message_template=message_template,
        conversation=conversation,
        inbound=inbound,
        reply=reply,
        failed=failed,
        booking_types=[physio, massage],
        booking=booking,
        completed_booking=completed_booking,
        cancelled_booking=cancelled_booking,
        feed=feed,
        form_template=form_template,
        submission=submission,
        pending_submission=pending_submission,
        upload=FormUpload.objects.get(submission=submission),
        items=[towels, oil],
        rules=rules,
        alerts=alerts,
        notice=notice,
        webhook_endpoint=webhook_endpoint,
        secrets=secrets_in_clear,
    )
