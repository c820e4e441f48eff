"""`seed_demo --bookings N --workspaces K`: a big, realistic demo workspace and others beside it,
written in bulk, every constraint and denormalized field as the services would leave them."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from automation.models import Reminder
from bookings.models import STATUS_TRANSITIONS, Booking, BookingStatusChange, BookingType
from careops.management.commands.seed_demo import DEMO_OWNER, DEMO_PASSWORD, Command
from contacts.models import Contact
from forms.models import FormSubmission
from inventory.models import InventoryItem, InventoryUsage
from messaging.models import Conversation, Message
from messaging.services import PREVIEW_LENGTH
from tests.processes import BIN, ROOT, env_with
from tests.test_quickstart import quickstart_env
from workspaces.models import Membership, User, Workspace

DEMO = "Harbour Physio (demo)"
SMALL_DEMO_CONTACTS = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (Workspace, User, Contact, Booking, BookingStatusChange, FormSubmission)
    more = (InventoryUsage, Conversation, Message, Reminder)
    return {m.__name__: m.objects.count() for m in (*models, *more)}


@pytest.mark.django_db
def test_bookings_flag_builds_a_big_demo_workspace_and_two_others():
    output = seed("--bookings", "2000", "--workspaces", "2")

    demo = Workspace.objects.get(name=DEMO)
    others = Workspace.objects.exclude(pk=demo.pk)
    assert sorted(others.values_list("name", flat=True)) == [
        "Northside Dental (demo)",
        "Willow Counselling (demo)",
    ]
    assert Booking.objects.for_workspace(demo).count() == 2000
    assert 2000 // 10 < Contact.objects.for_workspace(demo).count() < 2000 // 4
    for other in others:
        assert other.is_active
        assert Booking.objects.for_workspace(other).count() == 200
        assert Contact.objects.for_workspace(other).exists()
        assert Message.objects.for_workspace(other).exists()
        assert FormSubmission.objects.for_workspace(other).exists()
    assert "Harbour Physio (demo): 2,000 bookings" in output
    # Every row points at rows of its own workspace: tenancy filtering has something to filter.
    assert not Booking.objects.exclude(contact__workspace=F("workspace")).exists()
    assert not Booking.objects.exclude(booking_type__workspace=F("workspace")).exists()
    on_calendars = Booking.objects.filter(staff__isnull=False)
    assert not on_calendars.exclude(staff__memberships__workspace=F("workspace")).exists()
    assert not Message.objects.exclude(conversation__workspace=F("workspace")).exists()
    sent_with_bookings = FormSubmission.objects.filter(booking__isnull=False)
    assert not sent_with_bookings.exclude(booking__workspace=F("workspace")).exists()
    # The demo owner signs in to the big workspace.
    owner = User.objects.get(email=DEMO_OWNER[0])
    assert owner.check_password(DEMO_PASSWORD)
    assert Membership.objects.filter(workspace=demo, user=owner, role="owner").exists()

    # Deferred foreign keys are checked now rather than at a commit the test never makes.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    # Two years back and a month ahead: the past is settled, the future still active.
    now = timezone.now()
    bookings = Booking.objects.for_workspace(demo)
    span = bookings.aggregate(first=Max("start"), last=Max("start"))
    assert bookings.filter(start__lt=now - timedelta(days=700)).exists()
    assert span["last"] > now + timedelta(days=20)
    # The small demo's three bookings, made before the bulk ones (today at 10:00 and the next
    # two days), stay confirmed whatever the hour, as a day's calendar does until its outcomes
    # are marked; every bulk booking more than an hour past is settled.
    small_demo = list(bookings.order_by("pk").values_list("pk", flat=True)[:3])
    unsettled = bookings.filter(start__lt=now, status__in=["pending", "confirmed"])
    assert not unsettled.exclude(pk__in=small_demo).exclude(start__gt=now - timedelta(hours=1))
    assert not bookings.filter(start__gt=now, status__in=["completed", "no_show"]).exists()
    statuses = set(bookings.values_list("status", flat=True))
    assert statuses == {"pending", "confirmed", "completed", "cancelled", "no_show"}
    assert bookings.values("booking_type").distinct().count() >= 4
    assert bookings.values("staff").distinct().count() >= 3

    # The blocked range is the booking widened by its type's buffers.
    assert not Booking.objects.exclude(
        blocked_start=F("start") - F("booking_type__buffer_before_minutes") * timedelta(minutes=1),
        blocked_end=F("end") + F("booking_type__buffer_after_minutes") * timedelta(minutes=1),
    ).exists()
    # Each booking's history walks the allowed transitions and ends at its status.
    for step in BookingStatusChange.objects.values("from_status", "to_status").distinct():
        if step["from_status"]:
            assert step["to_status"] in STATUS_TRANSITIONS[step["from_status"]], step
    newest = BookingStatusChange.objects.filter(booking=OuterRef("pk")).order_by("-created_at")
    assert not Booking.objects.annotate(last=Subquery(newest.values("to_status")[:1])).exclude(
        last=F("status")
    )

    # Stock on hand is the ledger's sum, and each balance the running sum up to it.
    for item in InventoryItem.objects.annotate(total=Sum("history__change")):
        assert item.quantity_on_hand == (item.total or 0), item
        assert (item.low_since is not None) == item.is_low, item
        running = 0
        for usage in item.history.order_by("occurred_at", "pk"):
            running += usage.change
            assert usage.balance_after == running
    assert InventoryUsage.objects.for_workspace(demo).filter(kind="booking").exists()

    # A conversation shows its newest message, and counts the client's unanswered ones.
    # (The small demo's threads went through the services, which stamp a reply's time twice.)
    conversations = Conversation.objects.exclude(contact__name__in=SMALL_DEMO_CONTACTS).annotate(
        newest=Max("messages__created_at"), n=Count("messages")
    )
    assert conversations.filter(n__gt=0).count() > 100
    for conversation in conversations.filter(n__gt=0):
        thread = list(conversation.messages.order_by("created_at", "pk"))
        last = thread[-1]
        assert conversation.last_message_at == conversation.newest == last.created_at
        text = f"{last.subject} {last.body}" if last.subject else last.body
        assert conversation.last_message_preview == " ".join(text.split())[:PREVIEW_LENGTH]
        trailing = 0
        for message in reversed(thread):
            if message.direction == "outbound":
                break
            trailing += 1
        assert conversation.unread_count in (0, trailing)
    assert Conversation.objects.filter(unread_count__gt=0).exists()

    # Forms: completed ones have their answers and time, late ones are overdue.
    submissions = FormSubmission.objects.for_workspace(demo)
    assert {"completed", "pending", "overdue"} <= set(submissions.values_list("status", flat=True))
    assert not submissions.filter(status="completed").filter(Q(answers={}) | Q(answers_sha256=""))
    assert not submissions.filter(status="pending", due_at__lt=now).exists()
    # Reminders: planned for upcoming active bookings only.
    reminders = Reminder.objects.for_workspace(demo)
    assert reminders.exists()
    assert not reminders.exclude(booking__status__in=["pending", "confirmed"]).exists()
    assert not reminders.exclude(booking_start=F("booking__start")).exists()


@pytest.mark.django_db
def test_a_second_run_with_the_same_size_adds_nothing():
    seed("--bookings", "2000", "--workspaces", "2")
    before = counts()

    output = seed("--bookings", "2000", "--workspaces", "2")

    assert counts() == before
    assert output.count("added nothing") == 3


@pytest.mark.django_db
def test_a_bigger_size_tops_the_workspaces_up():
    seed("--bookings", "600", "--workspaces", "1")

    seed("--bookings", "900", "--workspaces", "1")

    demo = Workspace.objects.get(name=DEMO)
    assert Booking.objects.for_workspace(demo).count() == 900
    other = Workspace.objects.get(name="Northside Dental (demo)")
    assert Booking.objects.for_workspace(other).count() == 90
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for item in InventoryItem.objects.annotate(total=Sum("history__change")):
        assert item.quantity_on_hand == (item.total or 0)


@pytest.mark.django_db
def test_without_flags_only_the_small_demo_is_made():
    output = seed()

    assert "Demo workspace ready: Harbour Physio (demo)" in output
    assert "Bulk" not in output
    assert list(Workspace.objects.values_list("name", flat=True)) == [DEMO]
    assert Booking.objects.count() == 3
    assert BookingType.objects.count() == 2
    assert User.objects.count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bookings", "-1"], "--bookings must be between 0 and 1,000,000"),
        (["--bookings", "1000001"], "--bookings must be between 0 and 1,000,000"),
        (["--bookings", "10", "--workspaces", "11"], "--workspaces must be between 0 and 10"),
        (["--bookings", "10", "--workspaces", "-1"], "--workspaces must be between 0 and 10"),
        (["--workspaces", "2"], "--workspaces needs --bookings"),
        (["--bookings", "lots"], "invalid int value: 'lots'"),
    ],
)
def test_bad_sizes_are_refused_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        seed(*args)


def test_a_bad_size_exits_non_zero_from_the_shell():
    result = subprocess.run(
        [str(BIN / "python"), str(ROOT / "manage.py"), "seed_demo", "--bookings", "2000000"],
        env=env_with(),
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "--bookings must be between 0 and 1,000,000 (got 2,000,000)" in result.stderr


def test_help_describes_the_flags():
    text = Command().create_parser("manage.py", "seed_demo").format_help()

    for flag in ("--bookings N", "--workspaces K", "--seed SEED"):
        assert flag in text


@pytest.mark.slow
def test_bulk_seeding_works_on_sqlite(tmp_path):
    env = quickstart_env(tmp_path)
    manage = [str(BIN / "python"), str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True, capture_output=True)

    seeded = subprocess.run(
        [*manage, "seed_demo", "--bookings", "300", "--workspaces", "1"],
        env=env,
        capture_output=True,
        text=True,
    )

    assert seeded.returncode == 0, seeded.stderr
    assert "Harbour Physio (demo): 300 bookings" in seeded.stdout
    assert "Northside Dental (demo): 30 bookings" in seeded.stdout
