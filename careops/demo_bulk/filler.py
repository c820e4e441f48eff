"""One top-up of one workspace: what its bookings need, then the bookings in time order with
their contacts, history, forms, reminders and stock usage (the inbox: careops.demo_bulk.inbox)."""

from __future__ import annotations

import json
import math
import random
import secrets
from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from django.db import connection, models
from django.utils import timezone

from automation.models import Reminder, Rule
from automation.reminders import reminder_due
from automation.rules import rules_for
from bookings import setup_services
from bookings.models import Booking, BookingStatusChange, BookingType, WorkingHours
from careops.demo_bulk.catalogue import (
    AHEAD_DAYS,
    BOOKINGS_PER_CONTACT,
    CHUNK,
    FILL,
    FIRST,
    HISTORY_DAYS,
    HOURS,
    INTAKE,
    INTAKE_FIELDS,
    INTAKE_SERVICES,
    LAST,
    MIN_CALENDARS,
    SERVICES,
    SUPPLIES,
    TAGS,
)
from careops.demo_bulk.inbox import conversations_fill
from careops.demo_bulk.rows import (
    HISTORY_FIELDS,
    LEDGER_FIELDS,
    REMINDER_FIELDS,
    SUBMISSION_FIELDS,
    RawJson,
    insert_rows,
)
from contacts.models import Contact, Tag
from forms import services as forms_services
from forms.models import FormSubmission, FormTemplate
from forms.services.submitting import canonical_answers_sha256
from inventory import services as inventory_services
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from messaging.services import inbound_email_address
from workspaces.models import Membership, User, Workspace

Progress = Callable[[int, int], None]


class Filler:
    """One top-up of one workspace: the setup it needs, then the rows in chronological chunks."""

    def __init__(self, workspace: Workspace, owner: User, rng: random.Random, now) -> None:
        self.ws, self.owner, self.rng = workspace, owner, rng
        self.now = now or timezone.now()
        self.zone = workspace.zone
        self.added: dict[type[models.Model], int] = {}

    def insert(self, model, fields: Sequence[str], rows: list[tuple]) -> list[int]:
        self.added[model] = self.added.get(model, 0) + len(rows)
        return insert_rows(model, fields, rows)

    # --- What the bookings need: services, practitioners and hours, forms, supplies, tags ------

    def setup(self, staff: Sequence[User], target: int) -> None:
        ws = self.ws
        today = self.now.astimezone(self.zone).date()
        self.days = [
            today + timedelta(days=d)
            for d in range(-HISTORY_DAYS, AHEAD_DAYS + 1)
            if (today + timedelta(days=d)).weekday() < 5
        ]
        per_calendar = len(self.days) * len(HOURS)
        calendars = max(MIN_CALENDARS, len(staff), math.ceil(target / (per_calendar * FILL)))
        self.calendars = self._calendars(staff, calendars)
        types = {t.slug: t for t in BookingType.objects.for_workspace(ws)}
        for name, slug, minutes, before, after, price, _share in SERVICES:
            if slug not in types:
                types[slug] = setup_services.booking_type_save(
                    workspace=ws,
                    name=name,
                    duration_minutes=minutes,
                    buffer_before_minutes=before,
                    buffer_after_minutes=after,
                    price_display=price,
                    location=ws.address,
                )
        # Only a service that fits in its hour, buffers included, goes on the grid.
        self.types = [
            (types[slug], share)
            for _n, slug, *_rest, share in SERVICES
            if types[slug].buffer_before_minutes
            + types[slug].duration_minutes
            + types[slug].buffer_after_minutes
            <= 60
        ]
        through = BookingType.staff.through
        through.objects.bulk_create(
            [
                through(bookingtype_id=t.pk, user_id=user.pk)
                for t, _share in self.types
                for user in self.calendars
            ],
            ignore_conflicts=True,
        )
        with_hours = set(
            WorkingHours.objects.for_workspace(ws).values_list("staff_id", flat=True).distinct()
        )
        self.insert(
            WorkingHours,
            ["workspace_id", "staff_id", "weekday", "start_time", "end_time", "created_at"],
            [
                (ws.pk, user.pk, day, time(HOURS[0]), time(HOURS[-1] + 1), self.now)
                for user in self.calendars
                if user.pk not in with_hours
                for day in range(5)
            ],
        )
        self._forms(types)
        self._supplies(types)
        existing_tags = {t.name.lower(): t.pk for t in Tag.objects.for_workspace(ws)}
        missing = [name for name in TAGS if name.lower() not in existing_tags]
        new = self.insert(
            Tag, ["workspace_id", "name", "created_at"], [(ws.pk, n, self.now) for n in missing]
        )
        self.tags = [*existing_tags.values(), *new]
        self.reminder_rule = rules_for(ws)[Rule.Kind.BOOKING_REMINDER]
        self.inbound_address = inbound_email_address(ws)

    def _calendars(self, staff: Sequence[User], count: int) -> list[User]:
        """`staff`, then the workspace's other staff members, then new ones: `count` in all."""
        members = list(
            User.objects.filter(
                memberships__workspace=self.ws, memberships__role=Membership.Role.STAFF
            )
            .exclude(pk__in=[u.pk for u in staff])
            .order_by("pk")
        )
        calendars = [*staff, *members][:count]
        if len(calendars) < count:
            start = len(members)
            users = [
                User(
                    email=f"practitioner{k}@{self.ws.slug}.demo.careops.test",
                    name=f"{FIRST[k % len(FIRST)]} {LAST[k * 7 % len(LAST)]}",
                    password="!" + secrets.token_urlsafe(30),  # unusable: no sign-in
                )
                for k in range(start + 1, start + 1 + count - len(calendars))
            ]
            users = User.objects.bulk_create(users)
            if connection.vendor != "postgresql":  # pks back from SQLite by email
                users = list(User.objects.filter(email__in=[u.email for u in users]))
            Membership.objects.bulk_create(
                Membership(workspace=self.ws, user=u, role=Membership.Role.STAFF) for u in users
            )
            calendars += users
        return calendars

    def _forms(self, types: dict[str, BookingType]) -> None:
        ws = self.ws
        if not FormTemplate.objects.for_workspace(ws).filter(name__iexact=INTAKE).exists():
            forms_services.template_create(
                workspace=ws,
                actor=self.owner,
                name=INTAKE,
                fields=INTAKE_FIELDS,
                booking_type_ids=[types[s].pk for s in INTAKE_SERVICES],
            )
        # What each service sends, as the templates say (the booking-forms automation's rule).
        self.forms_for: dict[int, list[FormTemplate]] = {}
        live = FormTemplate.objects.for_workspace(ws).filter(is_active=True)
        for template in live.prefetch_related("booking_types"):
            for booking_type in template.booking_types.all():
                self.forms_for.setdefault(booking_type.pk, []).append(template)

    def _supplies(self, types: dict[str, BookingType]) -> None:
        ws = self.ws
        items = {i.sku.lower(): i for i in InventoryItem.objects.for_workspace(ws)}
        for name, sku, unit, low, reorder, uses in SUPPLIES:
            item = items.get(sku.lower())
            if item is None:
                item = items[sku.lower()] = inventory_services.item_create(
                    workspace=ws,
                    actor=self.owner,
                    name=name,
                    sku=sku,
                    unit=unit,
                    low_stock_threshold=low,
                    reorder_quantity=reorder,
                    # What no service uses is simply in stock; the rest is bought as used.
                    quantity_on_hand=0 if uses else reorder,
                )
            for slug, quantity in uses.items():
                if not BookingTypeConsumption.objects.filter(
                    booking_type=types[slug], item=item
                ).exists():
                    inventory_services.consumption_set(
                        booking_type=types[slug], item=item, quantity=quantity, actor=self.owner
                    )
        self.items = {i.pk: i for i in InventoryItem.objects.for_workspace(ws)}
        self.consumes: dict[int, list[tuple[int, int]]] = {}
        for c in BookingTypeConsumption.objects.for_workspace(ws):
            self.consumes.setdefault(c.booking_type_id, []).append((c.item_id, c.quantity))
        # Each item's ledger from this run starts at 0 and never dips below: merged with the
        # rows already there, the running balance stays >= 0; recomputed at the end for those.
        self.items_with_ledger = set(
            InventoryUsage.objects.for_workspace(ws).values_list("item_id", flat=True).distinct()
        )
        self.balance = dict.fromkeys(self.items, 0)
        self.low_since: dict[int, datetime | None] = {}
        self.touched: set[int] = set()

    # --- The bookings, in chronological chunks, with what each one brings along --------------

    def fill(self, missing: int, progress: Progress | None) -> None:
        rng, calendars = self.rng, self.calendars
        width = len(calendars)
        self.starts = [
            datetime.combine(day, time(hour), tzinfo=self.zone).astimezone(UTC)
            for day in self.days
            for hour in HOURS
        ]
        size = len(self.starts) * width
        taken = self._taken(width)
        population = [i for i in range(size) if i not in taken] if taken else range(size)
        if missing > len(population):
            raise ValueError(f"No room for {missing:,} more bookings on {width} calendars.")
        # Slot i is (day, hour, calendar) = divmod: sorted, the bookings come in time order.
        chosen = array("q", sorted(rng.sample(population, missing)))
        weights = [share for _t, share in self.types]
        kinds = array("b", rng.choices(range(len(self.types)), weights, k=missing))
        leads = array("l", (rng.randint(60, 21 * 24 * 60) for _ in range(missing)))
        contact_count = max(1, round(missing / BOOKINGS_PER_CONTACT))
        regulars = max(1, contact_count // 5)
        # Half the bookings are a fifth of the contacts' (the regulars), half anyone's.
        who = array(
            "l",
            (
                rng.randrange(regulars) if rng.random() < 0.5 else rng.randrange(contact_count)
                for _ in range(missing)
            ),
        )
        first_seen: list[datetime | None] = [None] * contact_count
        for n in range(missing):
            if first_seen[who[n]] is None:
                first_seen[who[n]] = self._created(n, chosen, leads)
        contacts = self._contacts(first_seen)
        conversations_fill(self, contacts)
        for begin in range(0, missing, CHUNK):
            self._bookings(range(begin, min(begin + CHUNK, missing)), chosen, kinds, leads, who)
            if progress:
                progress(min(begin + CHUNK, missing), missing)
        self._settle_stock()

    def _slot(self, n: int, chosen) -> tuple[datetime, User]:
        slot, column = divmod(chosen[n], len(self.calendars))
        return self.starts[slot], self.calendars[column]

    def _created(self, n: int, chosen, leads) -> datetime:
        """When booking n was made: its lead time before the slot, and never after now."""
        start, _staff = self._slot(n, chosen)
        created = start - timedelta(minutes=leads[n])
        return min(created, self.now - timedelta(minutes=1 + leads[n] % 600))

    def _taken(self, width: int) -> set[int]:
        """The slots the workspace's bookings on these calendars already cover (a top-up)."""
        column = {user.pk: c for c, user in enumerate(self.calendars)}
        day_index = {day: d for d, day in enumerate(self.days)}
        taken = set()
        existing = Booking.objects.for_workspace(self.ws).filter(staff_id__in=list(column))
        for staff_id, start, end in existing.values_list(
            "staff_id", "blocked_start", "blocked_end"
        ):
            moment = start.astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
            while moment < end:
                d = day_index.get(moment.date())
                if d is not None and moment.hour in HOURS:
                    slot = d * len(HOURS) + HOURS.index(moment.hour)
                    taken.add(slot * width + column[staff_id])
                moment = (moment.astimezone(UTC) + timedelta(hours=1)).astimezone(self.zone)
        return taken

    def _contacts(self, first_seen: list[datetime | None]) -> list[tuple[int, str, str, str]]:
        """The contacts, made a little before their first booking (or any time, for those who
        only wrote in); returns (id, name, email, phone) of each."""
        rng, ws = self.rng, self.ws
        # Above every contact id so far: no suffix a former run used (they were <= their ids).
        base = (Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        rows, people = [], []
        sources = [s for s, _label in Contact.Source.choices]
        # Made-up people must never be reached: emails at example.org (reserved), and mobile
        # numbers only from Ofcom's range kept for fiction (07700 900000-900999), so a worker
        # with a real provider sending the planned reminders texts nobody. A thousand numbers
        # per workspace: the contacts past them have an email only.
        taken = set(
            Contact.objects.for_workspace(ws).exclude(phone="").values_list("phone", flat=True)
        )
        free_phones = (p for n in range(1000) if (p := f"+447700900{n:03d}") not in taken)
        for k, seen in enumerate(first_seen):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            email = f"{first}.{last}.{base + k}@example.org".lower() if rng.random() < 0.9 else ""
            phone = next(free_phones, "") if not email or rng.random() < 0.7 else ""
            if not email and not phone:
                email = f"{first}.{last}.{base + k}@example.org".lower()
            if seen is None:
                seen = self.now - timedelta(minutes=rng.randrange(60, HISTORY_DAYS * 24 * 60))
            created = seen - timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
            email_consent = bool(email) and rng.random() < 0.6
            sms_consent = bool(phone) and rng.random() < 0.4
            source = rng.choices(sources, (20, 55, 10, 10, 5))[0]
            rows.append(
                (
                    ws.pk,
                    name,
                    email,
                    phone,
                    source,
                    "Prefers afternoon sessions." if rng.random() < 0.05 else "",
                    email_consent,
                    created if email_consent else None,
                    source if email_consent else "",
                    sms_consent,
                    created if sms_consent else None,
                    source if sms_consent else "",
                    created,
                    created,
                )
            )
            people.append((name, email, phone))
        ids = self.insert(
            Contact,
            [
                "workspace_id",
                "name",
                "email",
                "phone",
                "source",
                "notes",
                "email_consent",
                "email_consent_at",
                "email_consent_source",
                "sms_consent",
                "sms_consent_at",
                "sms_consent_source",
                "created_at",
                "updated_at",
            ],
            rows,
        )
        tagged = [
            (pk, tag)
            for pk in ids
            if rng.random() < 0.3
            for tag in rng.sample(self.tags, min(len(self.tags), rng.randint(1, 2)))
        ]
        through = Contact.tags.through
        self.added[through] = len(tagged)
        through.objects.bulk_create(
            (through(contact_id=pk, tag_id=tag) for pk, tag in tagged), batch_size=5000
        )
        self.contact_ids = ids
        self.people = people
        return [(pk, *person) for pk, person in zip(ids, people, strict=True)]

    def _bookings(self, ns: range, chosen, kinds, leads, who) -> None:
        rng, ws, now = self.rng, self.ws, self.now
        rows, plans = [], []
        for n in ns:
            slot_start, staff = self._slot(n, chosen)
            booking_type, _share = self.types[kinds[n]]
            start = slot_start + timedelta(minutes=booking_type.buffer_before_minutes)
            end = start + timedelta(minutes=booking_type.duration_minutes)
            created = self._created(n, chosen, leads)
            source = rng.choices(("public", "staff", "api"), (55, 40, 5))[0]
            history = self._history(created, slot_start, staff, source)
            status, changed, actor = history[-1][1], history[-1][2], history[-1][3]
            rows.append(
                (
                    ws.pk,
                    booking_type.pk,
                    self.contact_ids[who[n]],
                    staff.pk,
                    start,
                    end,
                    slot_start,
                    end + timedelta(minutes=booking_type.buffer_after_minutes),
                    status,
                    source,
                    secrets.token_urlsafe(12),
                    changed,
                    actor,
                    created,
                    changed,
                )
            )
            plans.append((booking_type, who[n], start, slot_start, created, history))
        ids = self.insert(
            Booking,
            [
                "workspace_id",
                "booking_type_id",
                "contact_id",
                "staff_id",
                "start",
                "end",
                "blocked_start",
                "blocked_end",
                "status",
                "source",
                "manage_nonce",
                "status_changed_at",
                "status_changed_by_id",
                "created_at",
                "updated_at",
            ],
            rows,
        )
        history_rows, form_rows, reminder_rows, ledger_rows = [], [], [], []
        for pk, (booking_type, person, start, slot_start, created, history) in zip(
            ids, plans, strict=True
        ):
            history_rows += [
                (ws.pk, pk, before, after, actor, at, at) for before, after, at, actor in history
            ]
            status = history[-1][1]
            form_rows += [
                self._submission(template, pk, person, created)
                for template in self.forms_for.get(booking_type.pk, ())
            ]
            if start > now and status in ("pending", "confirmed"):
                reminder_rows += self._reminder(pk, start)
            if status == "completed":
                slot_end = slot_start + timedelta(hours=1)
                for item_id, quantity in self.consumes.get(booking_type.pk, ()):
                    ledger_rows += self._consume(item_id, quantity, pk, slot_end)
        self.insert(BookingStatusChange, HISTORY_FIELDS, history_rows)
        self.insert(FormSubmission, SUBMISSION_FIELDS, form_rows)
        self.insert(Reminder, REMINDER_FIELDS, reminder_rows)
        self.insert(InventoryUsage, LEDGER_FIELDS, ledger_rows)

    def _history(self, created, slot_start, staff, source) -> list[tuple]:
        """(from, to, when, actor id) of each status the booking went through, by the
        transitions in bookings.models.STATUS_TRANSITIONS; its status is the last one's."""
        rng, now = self.rng, self.now
        booker = None if source == "public" else rng.choice((self.owner.pk, staff.pk))
        if slot_start <= now:
            final = rng.choices(("completed", "no_show", "cancelled"), (80, 6, 14))[0]
        else:
            final = rng.choices(("confirmed", "pending", "cancelled"), (80, 12, 8))[0]
        # Requests from the booking page often wait for staff to confirm them.
        pending = final == "pending" or (source == "public" and rng.random() < 0.3)
        history = [("", "pending" if pending else "confirmed", created, booker)]
        confirm_at = min(created + timedelta(hours=2), now, slot_start)
        if pending and final not in ("pending", "cancelled"):
            history.append(("pending", "confirmed", max(confirm_at, created), staff.pk))
        if final == "cancelled":
            span = max((min(slot_start, now) - created).total_seconds(), 1)
            at = created + timedelta(seconds=rng.uniform(0.05, 1) * span + 1)
            who = None if rng.random() < 0.6 else staff.pk
            history.append((history[-1][1], "cancelled", at, who))
        elif final in ("completed", "no_show"):
            done = min(slot_start + timedelta(hours=1), now)
            history.append(("confirmed", final, done, staff.pk))
        return history

    def _submission(self, template: FormTemplate, booking_id: int, person: int, sent) -> tuple:
        """The template sent with the booking when it was made: filled in, still to do, or late."""
        rng, now = self.rng, self.now
        name, email, phone = self.people[person]
        due = sent + timedelta(hours=template.due_hours)
        done = sent + (due - sent) * rng.uniform(0.02, 0.9)
        answers, signed = {}, None
        if rng.random() < 0.85 and done <= now:
            status, overdue = "completed", None
            answers = _answers(template.fields, name, email, phone)
            signed = done if any(f["type"] == "signature" for f in template.fields) else None
        else:
            status, done = ("overdue", None) if due <= now else ("pending", None)
            overdue = due if status == "overdue" else None
        return (
            self.ws.pk,
            template.pk,
            template.name,
            template.version,
            RawJson(json.dumps(template.fields)),
            self.contact_ids[person],
            booking_id,
            status,
            FormSubmission.Source.BOOKING,
            sent,
            due,
            done,
            overdue,
            answers,
            name if signed else "",
            signed,
            canonical_answers_sha256(answers, {}) if answers else "",
            "203.0.113.7" if answers else None,
            sent,
            done or overdue or sent,
        )

    def _reminder(self, booking_id: int, start: datetime) -> list[tuple]:
        """The reminder the rule plans for an upcoming booking (none when it would not go)."""
        rule = self.reminder_rule
        if not rule.is_enabled:
            return []
        due, reason = reminder_due(
            SimpleNamespace(workspace=self.ws, start=start), rule, now=self.now
        )
        if reason:
            return []
        return [(self.ws.pk, booking_id, rule.offset_minutes, start, due, self.now, self.now)]

    def _consume(self, item_id: int, quantity: int, booking_id: int, at: datetime) -> list[tuple]:
        """A completed booking's use of an item, restocked first when it would run out (ledger
        rows in time order: the slot ends come sorted)."""
        item, rows = self.items[item_id], []
        if self.balance[item_id] < quantity:
            restock = max(item.reorder_quantity, quantity, 1)
            rows.append(self._ledger(item, "restock", restock, restock, None, at, "Delivery"))
        rows.append(
            self._ledger(
                item, "booking", quantity, -quantity, booking_id, at, f"Booking #{booking_id}"
            )
        )
        return rows

    def _ledger(self, item, kind, quantity, change, booking_id, at, note) -> tuple:
        self.touched.add(item.pk)
        self.balance[item.pk] += change
        balance = self.balance[item.pk]
        if balance > item.low_stock_threshold:
            self.low_since[item.pk] = None
        elif self.low_since.get(item.pk) is None:
            self.low_since[item.pk] = at
        actor = self.owner.pk if kind == "restock" else None
        return (
            self.ws.pk,
            item.pk,
            kind,
            quantity,
            change,
            balance,
            actor,
            booking_id,
            at,
            note,
            at,
            at,
        )

    def _settle_stock(self) -> None:
        """Each item's quantity on hand is its ledger's sum; low since it last fell to its
        threshold. Items whose ledger had rows before this run get their balances recomputed
        in time order over all their rows (see _supplies)."""
        for item_id in self.touched - self.items_with_ledger:
            InventoryItem.objects.filter(pk=item_id).update(
                quantity_on_hand=self.balance[item_id],
                low_since=self.low_since.get(item_id),
                updated_at=self.now,
            )
        recompute = sorted(self.touched & self.items_with_ledger)
        if not recompute:
            return
        table = InventoryUsage._meta.db_table
        marks = ", ".join(["%s"] * len(recompute))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {table} SET balance_after = running.balance
                FROM (
                    SELECT id, SUM(change) OVER (
                        PARTITION BY item_id ORDER BY occurred_at, id
                    ) AS balance
                    FROM {table} WHERE item_id IN ({marks})
                ) AS running
                WHERE {table}.id = running.id AND {table}.balance_after <> running.balance
                """,  # noqa: S608 - table names from the models, values as parameters
                recompute,
            )
        for item in InventoryItem.objects.filter(pk__in=recompute):
            rows = InventoryUsage.objects.filter(item=item).order_by("-occurred_at", "-id")
            last = rows.first()
            item.quantity_on_hand = last.balance_after if last else 0
            if not item.is_low:
                item.low_since = None
            elif item.low_since is None:
                item.low_since = last.occurred_at
            item.save(update_fields=["quantity_on_hand", "low_since", "updated_at"])


def _answers(fields: list[dict], name: str, email: str, phone: str) -> dict[str, Any]:
    """What a client fills in: their details where the form asks, plausible answers elsewhere."""
    answers: dict[str, Any] = {}
    for field in fields:
        kind, key = field["type"], field["key"]
        if kind in ("text", "signature"):
            answers[key] = name
        elif kind == "email" and email:
            answers[key] = email
        elif kind == "phone" and phone:
            answers[key] = phone
        elif kind == "date":
            answers[key] = "1984-05-17"
        elif kind == "single_choice" and field["choices"]:
            answers[key] = field["choices"][-1]
        elif kind == "multiple_choice" and field["choices"]:
            answers[key] = field["choices"][:1]
        elif kind == "long_text":
            answers[key] = "Nothing to report."
        elif kind == "checkbox":
            answers[key] = True
    return answers
