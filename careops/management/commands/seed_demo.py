"""manage.py seed_demo — a demo owner, a staff member and their workspace, if absent.

Each domain app adds its demo data here as it lands; the command stays idempotent: running it
twice leaves one demo workspace.

With --bookings N it then tops the demo workspace up to N bookings of realistic history in bulk
(careops.demo_bulk), and builds --workspaces K other demo workspaces with a tenth of that each,
so that lists, figures and tenancy filtering can be tried and measured at size. Run again with
the same N, it adds nothing.
"""

from __future__ import annotations

import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from bookings import services as bookings_services
from bookings import setup_services
from bookings.models import Booking, BookingType
from careops.demo_bulk import MAX_BOOKINGS, workspace_fill
from careops.management.base import Progress
from contacts import services as contacts_services
from contacts.models import Contact
from forms import services as forms_services
from forms.models import FormTemplate
from inventory import services as inventory_services
from inventory.models import InventoryItem, InventoryUsage
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
# The other demo workspaces of --workspaces K (owners owner2@…, owner3@…, same password).
OTHER_WORKSPACES = (
    ("Northside Dental (demo)", "Europe/London"),
    ("Willow Counselling (demo)", "Europe/Dublin"),
    ("Lumen Hair Studio (demo)", "Europe/Paris"),
    ("Riverside Vets (demo)", "Europe/Berlin"),
    ("Summit Sports Clinic (demo)", "America/New_York"),
    ("Bayside Yoga (demo)", "Australia/Sydney"),
    ("Oakwood Chiropractic (demo)", "Europe/Madrid"),
    ("Kestrel Osteopathy (demo)", "Europe/London"),
    ("Meadow Speech Therapy (demo)", "Europe/Amsterdam"),
    ("Cedar Podiatry (demo)", "America/Chicago"),
)
DEFAULT_WORKSPACES = 3
OTHER_SHARE = 10  # each other workspace has a tenth of the demo workspace's bookings
# The tables a bulk run fills: analysed afterwards, so the planner knows their new size.
BULK_TABLES = (
    "contacts_contact",
    "contacts_contact_tags",
    "bookings_booking",
    "bookings_bookingstatuschange",
    "forms_formsubmission",
    "inventory_inventoryusage",
    "messaging_conversation",
    "messaging_message",
    "automation_reminder",
)


class Command(BaseCommand):
    help = (
        "Create the demo owner, staff member and workspace when they do not exist yet. With "
        "--bookings, top the demo workspace up to that many bookings of realistic history in "
        "bulk, and build other demo workspaces beside it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bookings",
            type=int,
            metavar="N",
            help=f"Top the demo workspace up to N bookings (0 to {MAX_BOOKINGS:,}) over the "
            "last two years and the coming month, with their contacts, practitioners, history, "
            "forms, messages and stock usage. A second run with the same N adds nothing.",
        )
        parser.add_argument(
            "--workspaces",
            type=int,
            metavar="K",
            help=f"With --bookings: K other demo workspaces (0 to {len(OTHER_WORKSPACES)}, "
            f"default {DEFAULT_WORKSPACES}), each topped up to N/{OTHER_SHARE} bookings.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=0,
            help="Seed of the random generator (default 0): the same seed, the same data.",
        )

    def _user(self, email: str, name: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
        return user

    def handle(self, *args, bookings=None, workspaces=None, seed=0, **options):
        if bookings is not None and not 0 <= bookings <= MAX_BOOKINGS:
            raise CommandError(
                f"--bookings must be between 0 and {MAX_BOOKINGS:,} (got {bookings:,})."
            )
        if workspaces is not None:
            if bookings is None:
                raise CommandError("--workspaces needs --bookings: how big the workspaces are.")
            if not 0 <= workspaces <= len(OTHER_WORKSPACES):
                raise CommandError(
                    f"--workspaces must be between 0 and {len(OTHER_WORKSPACES)} "
                    f"(got {workspaces})."
                )
        workspace, owner, staff = self._demo()
        if bookings is not None:
            self._bulk(
                workspace,
                owner,
                staff,
                bookings,
                DEFAULT_WORKSPACES if workspaces is None else workspaces,
                seed,
            )

    @transaction.atomic
    def _demo(self) -> tuple[Workspace, User, User]:
        owner = self._user(*DEMO_OWNER)
        staff = self._user(*DEMO_STAFF)
        workspace = Workspace.objects.filter(
            memberships__user=owner, name=DEMO_WORKSPACE["name"]
        ).first()
        if workspace is None:
            workspace = services.workspace_create(owner=owner, **DEMO_WORKSPACE)
            # The demo shows a business already running: live, as after its onboarding, so its
            # public pages take bookings and messages (the seed itself writes in through them).
            # Signing up shows a new business's onboarding.
            workspace.status = Workspace.Status.ACTIVE
            workspace.activated_at = timezone.now()
            workspace.save(update_fields=["status", "activated_at", "updated_at"])
        Membership.objects.get_or_create(
            workspace=workspace, user=staff, defaults={"role": Membership.Role.STAFF}
        )
        if not Contact.objects.for_workspace(workspace).exists():
            self._inbox(workspace, owner, staff)
        if not BookingType.objects.for_workspace(workspace).exists():
            self._bookings(workspace, owner)
        if not FormTemplate.objects.for_workspace(workspace).exists():
            self._forms(workspace, owner)
        if not InventoryItem.objects.for_workspace(workspace).exists():
            self._inventory(workspace, owner, staff)
        self.stdout.write(self.style.SUCCESS(f"Demo workspace ready: {workspace.name}"))
        self.stdout.write(f"  owner: {DEMO_OWNER[0]} / {DEMO_PASSWORD}")
        self.stdout.write(f"  staff: {DEMO_STAFF[0]} / {DEMO_PASSWORD}")
        return workspace, owner, staff

    def _bulk(
        self, workspace: Workspace, owner: User, staff: User, bookings: int, others: int, seed: int
    ) -> None:
        """The demo workspace topped up to `bookings`, and `others` workspaces to a share each,
        in one transaction: a failed run leaves nothing half written."""
        started = clock.perf_counter()
        with transaction.atomic():
            plan = [(workspace, owner, [staff], bookings)]
            for k, (name, zone) in enumerate(OTHER_WORKSPACES[:others], start=2):
                other_owner = self._user(f"owner{k}@demo.careops.test", f"Owner {k}")
                plan.append(
                    (self._other(other_owner, name, zone), other_owner, [], bookings // OTHER_SHARE)
                )
            counts = [Booking.objects.for_workspace(ws).count() for ws, *_rest in plan]
            total = sum(
                max(target - n, 0) for (*_rest, target), n in zip(plan, counts, strict=True)
            )
            bar, done, lines = Progress(self.stderr, unit="bookings"), 0, []
            for (ws, ws_owner, ws_staff, target), before in zip(plan, counts, strict=True):
                added = workspace_fill(
                    workspace=ws,
                    owner=ws_owner,
                    staff=ws_staff,
                    bookings=target,
                    seed=seed,
                    progress=lambda n, _of, base=done: bar(base + n, total),
                )
                done += max(target - before, 0)
                summary = ", ".join(f"{n:,} {model._meta.label}" for model, n in added.items())
                lines.append(
                    f"{ws.name}: {max(target, before):,} bookings; added {summary or 'nothing'}"
                )
        for line in lines:
            self.stdout.write(line)
        if connection.vendor == "postgresql" and total:
            # VACUUM as well as ANALYZE: freshly loaded pages are not yet marked all-visible, so
            # an index-only scan would still read the table's rows until autovacuum came by
            # (a live database's steady state, which the benchmarks should measure). Inside a
            # caller's transaction (a test's) VACUUM cannot run: ANALYZE alone then.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                cursor.execute(f"{command} {', '.join(BULK_TABLES)}")
        self.stdout.write(
            self.style.SUCCESS(f"Bulk demo data ready in {clock.perf_counter() - started:.1f} s")
        )

    def _other(self, owner: User, name: str, zone: str) -> Workspace:
        """Another demo business, live, owned by `owner` (found again on a second run)."""
        workspace = Workspace.objects.filter(memberships__user=owner, name=name).first()
        if workspace is None:
            workspace = services.workspace_create(owner=owner, name=name, timezone=zone)
            workspace.status = Workspace.Status.ACTIVE
            workspace.activated_at = timezone.now()
            workspace.save(update_fields=["status", "activated_at", "updated_at"])
        return workspace

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

    def _forms(self, workspace: Workspace, owner: User) -> None:
        """An intake form the physio session sends, one pending and one completed."""
        physio = BookingType.objects.for_workspace(workspace).filter(slug="physio-session").first()
        intake = forms_services.template_create(
            workspace=workspace,
            actor=owner,
            name="New client intake",
            description="A few questions before your first session.",
            booking_type_ids=[physio.pk] if physio else [],
            fields=[
                {"type": "text", "label": "Full name", "required": True, "maps_to": "name"},
                {"type": "email", "label": "Email", "maps_to": "email"},
                {"type": "phone", "label": "Phone", "maps_to": "phone"},
                {"type": "date", "label": "Date of birth"},
                {
                    "type": "single_choice",
                    "label": "Have you had physiotherapy before?",
                    "choices": ["Yes", "No"],
                    "required": True,
                },
                {
                    "type": "multiple_choice",
                    "label": "Where does it hurt?",
                    "choices": ["Back", "Neck", "Shoulder", "Knee", "Other"],
                },
                {"type": "long_text", "label": "Medical history and medication"},
                {"type": "file", "label": "GP referral letter (optional)"},
                {
                    "type": "checkbox",
                    "label": "I consent to assessment and treatment",
                    "required": True,
                },
                {"type": "signature", "label": "Signature", "required": True},
            ],
        )
        contacts = list(Contact.objects.for_workspace(workspace).order_by("pk")[:2])
        submissions = [
            forms_services.form_send(
                workspace=workspace, template=intake, contact=c, actor=owner, deliver=False
            )
            for c in contacts
        ]
        if submissions:
            forms_services.submission_submit(
                submission=submissions[0],
                data={
                    "full_name": contacts[0].name,
                    "email": contacts[0].email,
                    "have_you_had_physiotherapy_before": "No",
                    "where_does_it_hurt": ["Back"],
                    "i_consent_to_assessment_and_treatment": True,
                    "signature": contacts[0].name,
                },
                ip="127.0.0.1",
            )

    def _inventory(self, workspace: Workspace, owner: User, staff: User) -> None:
        """Supplies the physio session uses, one of them running low."""
        towels = inventory_services.item_create(
            workspace=workspace,
            actor=owner,
            name="Treatment couch roll",
            sku="ROLL-50",
            unit="roll",
            quantity_on_hand=12,
            low_stock_threshold=4,
            reorder_quantity=12,
            supplier_note="MedSupplies Ltd, next-day delivery.",
        )
        oil = inventory_services.item_create(
            workspace=workspace,
            actor=owner,
            name="Massage oil 500 ml",
            sku="OIL-500",
            unit="bottle",
            quantity_on_hand=3,
            low_stock_threshold=2,
            reorder_quantity=6,
        )
        inventory_services.item_create(
            workspace=workspace,
            actor=owner,
            name="Kinesiology tape",
            sku="TAPE-5M",
            unit="roll",
            quantity_on_hand=20,
            low_stock_threshold=5,
            reorder_quantity=10,
        )
        for slug, item in (("physio-session", towels), ("sports-massage", oil)):
            booking_type = BookingType.objects.for_workspace(workspace).filter(slug=slug).first()
            if booking_type is not None:
                inventory_services.consumption_set(
                    booking_type=booking_type, item=item, quantity=1, actor=owner
                )
        inventory_services.stock_move(
            item=oil,
            kind=InventoryUsage.Kind.USAGE,
            quantity=1,
            actor=staff,
            note="Opened a new bottle.",
        )
