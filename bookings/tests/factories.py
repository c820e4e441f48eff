from __future__ import annotations

from datetime import UTC, time, timedelta

import factory

from bookings.models import AvailabilityOverride, Booking, BookingType, WorkingHours
from contacts.tests.factories import ContactFactory
from workspaces.tests.factories import WorkspaceFactory


class BookingTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingType
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Consultation {n}")
    slug = factory.Sequence(lambda n: f"consultation-{n}")
    duration_minutes = 60
    min_notice_minutes = 0

    @factory.post_generation
    def staff(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.staff.set(extracted)


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    """Monday 09:00-17:00 on the shared calendar unless told otherwise."""

    class Meta:
        model = WorkingHours

    workspace = factory.SubFactory(WorkspaceFactory)
    staff = None
    weekday = 0
    start_time = time(9)
    end_time = time(17)


class AvailabilityOverrideFactory(factory.django.DjangoModelFactory):
    """A closed day unless given times."""

    class Meta:
        model = AvailabilityOverride

    workspace = factory.SubFactory(WorkspaceFactory)
    staff = None
    date = factory.Faker("future_date")
    start_time = None
    end_time = None


class BookingFactory(factory.django.DjangoModelFactory):
    """A confirmed booking written straight to the table (no service checks): pass `start`,
    and `staff` for a staff calendar. blocked_* follow the type's buffers."""

    class Meta:
        model = Booking

    workspace = factory.SubFactory(WorkspaceFactory)
    booking_type = factory.SubFactory(
        BookingTypeFactory, workspace=factory.SelfAttribute("..workspace")
    )
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    staff = None
    start = factory.Faker("future_datetime", tzinfo=UTC)
    end = factory.LazyAttribute(
        lambda o: o.start + timedelta(minutes=o.booking_type.duration_minutes)
    )
    blocked_start = factory.LazyAttribute(
        lambda o: o.start - timedelta(minutes=o.booking_type.buffer_before_minutes)
    )
    blocked_end = factory.LazyAttribute(
        lambda o: o.end + timedelta(minutes=o.booking_type.buffer_after_minutes)
    )
    status = Booking.Status.CONFIRMED
