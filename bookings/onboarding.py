"""The onboarding step bookings adds: a service clients can book, with opening hours."""

from __future__ import annotations

from bookings.models import BookingType, WorkingHours
from workspaces.onboarding import OnboardingStep, register_step

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _booking_missing(workspace) -> list[str]:
    missing = []
    if not BookingType.objects.for_workspace(workspace).filter(is_active=True).exists():
        missing.append("Add a service clients can book.")
    if not WorkingHours.objects.for_workspace(workspace).exists():
        missing.append("Set your opening hours.")
    return missing


def _booking_summary(workspace) -> list[str]:
    """Each service with its length, then the days the shared or a staff calendar is open."""
    services = BookingType.objects.for_workspace(workspace).order_by("name", "pk")
    lines = [
        f"{s.name} ({s.duration_minutes} min){'' if s.is_active else ', switched off'}"
        for s in services.only("name", "duration_minutes", "is_active")
    ]
    days = sorted(
        set(WorkingHours.objects.for_workspace(workspace).values_list("weekday", flat=True))
    )
    if days:
        lines.append(f"Opening hours set: {', '.join(WEEKDAYS[d] for d in days)}.")
    else:
        lines.append("No opening hours yet.")
    return lines


register_step(
    OnboardingStep(
        "booking",
        "Services and opening hours",
        30,
        _booking_missing,
        description=(
            "What clients can book, how long each service takes, and when you are open: "
            "the public booking page offers the free times."
        ),
        links=(
            ("Add or edit services", "settings-booking-types"),
            ("Set opening hours", "settings-availability"),
        ),
        summary=_booking_summary,
    )
)
