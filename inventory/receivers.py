"""Inventory listens to bookings: a completed booking uses up what its service consumes."""

from __future__ import annotations

from django.dispatch import receiver

from bookings.models import Booking
from bookings.signals import booking_status_changed


@receiver(booking_status_changed, dispatch_uid="inventory.consume_on_completion")
def consume_on_completion(sender, booking: Booking, previous: str, **kwargs) -> None:
    if booking.status == Booking.Status.COMPLETED:
        from inventory.services import booking_consume

        booking_consume(booking=booking, actor=booking.status_changed_by)
