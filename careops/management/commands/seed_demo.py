"""manage.py seed_demo — a demo owner, a staff member and their workspace, if absent.

Each domain app adds its demo data here as it lands; the command stays idempotent: running it
twice leaves one demo workspace.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from bookings import services as bookings_services
from bookings import setup_services
from bookings.models import BookingType
from contacts import services as contacts_services
from contacts.models import Contact
from messaging import integrations, message_templates
from messaging import services as messaging_services
from messaging.models import Channel, Message
from workspaces import services
from workspaces.models import Membership, User, Workspace

DEMO_OWNER = ("owner@demo.careops.test", "Olivia Owner")
DEMO_STAFF = ("staff@demo.careops.test", "Sam Staff")
DEMO_PASSWORD = "demo-password-1234"  # noqa: S105 - a documented demo credential
DEMO_WORKSPACE = {
    "name": "Harbour Physio (demo)",
    "timezone": "Europe/London",
    "contact_email": "hello@harbourphysio.example",
    "contact_phone": "+44 20 7946 0958",
    "address": "12 Quay Street, Bristol BS1 4DJ",
}


class Command(BaseCommand):
    help = "Create the demo owner, staff member and workspace when they do not exist yet."

    def _user(self, email: str, name: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
        return user

    @transaction.atomic
    def handle(self, *args, **options):
        owner = self._user(*DEMO_OWNER)
        staff = self._user(*DEMO_STAFF)
        workspace = Workspace.objects.filter(
            memberships__user=owner, name=DEMO_WORKSPACE["name"]
        ).first()
        if workspace is None:
            workspace = services.workspace_create(owner=owner, **DEMO_WORKSPACE)
        Membership.objects.get_or_create(
            workspace=workspace, user=staff, defaults={"role": Membership.Role.STAFF}
        )
        if not Contact.objects.for_workspace(workspace).exists():
            self._inbox(workspace, owner, staff)
        if not BookingType.objects.for_workspace(workspace).exists():
            self._bookings(workspace, owner)
        self.stdout.write(self.style.SUCCESS(f"Demo workspace ready: {workspace.name}"))
        self.stdout.write(f"  owner: {DEMO_OWNER[0]} / {DEMO_PASSWORD}")
        self.stdout.write(f"  staff: {DEMO_STAFF[0]} / {DEMO_PASSWORD}")

    def _inbox(self, workspace: Workspace, owner: User, staff: User) -> None:
        """Console providers, two canned replies, a few contacts and conversations."""
        senders = {Channel.EMAIL: "hello@harbourphysio.example", Channel.SMS: "+442079460958"}
        # Where console providers are not allowed (DEBUG off), the platform defaults send.
        for channel, address in senders.items() if settings.MESSAGING_ALLOW_CONSOLE else ():
            integrations.integration_create(
                workspace=workspace,
                actor=owner,
                provider="console",
                channel=channel,
                credentials={},
                from_address=address,
            )
        message_templates.template_create(
            workspace=workspace,
            actor=owner,
            name="Thanks for getting in touch",
            subject="Thanks, {{ contact.first_name }}",
            body="Hi {{ contact.first_name }}, thanks for contacting {{ workspace.name }}. "
            "We will get back to you today.",
        )
        message_templates.template_create(
            workspace=workspace,
            actor=owner,
            name="Directions",
            channel=Channel.SMS,
            body="{{ workspace.name }} is at {{ workspace.address }}. See you soon!",
        )
        ada = contacts_services.contact_form_submit(
            workspace=workspace,
            name="Ada Lovelace",
            email="ada@example.org",
            phone="+447700900001",
            message="Hello! Do you have any appointments on Saturday mornings?",
            email_consent=True,
            sms_consent=True,
        )
        contacts_services.contact_update(contact=ada, actor=owner, tags=["new client"])
        grace = contacts_services.contact_create(
            workspace=workspace,
            actor=owner,
            name="Grace Hopper",
            email="grace@example.org",
            phone="+447700900002",
            tags=["regular"],
            notes="Prefers afternoon sessions.",
            sms_consent=True,
        )
        messaging_services.message_receive(
            workspace=workspace,
            contact=grace,
            channel=Channel.SMS,
            body="Running 10 minutes late, sorry!",
            from_address=grace.phone,
        )
        alan = contacts_services.contact_create(
            workspace=workspace, actor=owner, name="Alan Turing", email="alan@example.org"
        )
        conversation = messaging_services.conversation_for_contact(
            workspace=workspace, contact=alan
        )
        failed = messaging_services.message_send(
            conversation=conversation,
            actor=staff,
            body="Your exercise plan is attached to your client portal.",
        )
        # Show the inbox's failed state: a send the provider refused, waiting for a retry.
        Message.objects.filter(pk=failed.pk).update(
            status=Message.Status.FAILED,
            error="demo: the email provider answered HTTP 503 (service unavailable)",
            attempts=1,
            next_attempt_at=None,
        )
        contacts_services.contact_create(
            workspace=workspace, actor=owner, name="Katherine Johnson", phone="+447700900004"
        )

    def _bookings(self, workspace: Workspace, owner: User) -> None:
        """Two services on the shared calendar, weekday hours, and a few bookings this week."""
        physio = setup_services.booking_type_save(
            workspace=workspace,
            name="Physio session",
            description="Assessment and treatment.",
            duration_minutes=45,
            buffer_after_minutes=15,
            price_display="£55",
            location=DEMO_WORKSPACE["address"],
        )
        setup_services.booking_type_save(
            workspace=workspace,
            name="Sports massage",
            duration_minutes=60,
            price_display="£60",
            location=DEMO_WORKSPACE["address"],
        )
        for weekday in range(5):
            setup_services.working_hours_save(
                workspace=workspace,
                staff_id=None,
                weekday=weekday,
                start_time=time(9),
                end_time=time(17),
            )
        zone = ZoneInfo(workspace.timezone)
        today = timezone.localdate(timezone=zone)
        contacts = list(Contact.objects.for_workspace(workspace).order_by("pk")[:3])
        for offset, (contact, hour) in enumerate(zip(contacts, (10, 11, 14), strict=False)):
            start = datetime.combine(today + timedelta(days=offset), time(hour), tzinfo=zone)
            bookings_services.booking_create(
                workspace=workspace,
                booking_type=physio,
                contact=contact,
                start=start,
                actor=owner,
                enforce_rules=False,
            )
