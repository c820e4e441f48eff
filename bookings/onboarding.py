"""The onboarding step bookings adds: a service clients can book, with opening hours."""

from __future__ import annotations

from bookings.models import BookingType, WorkingHours
from workspaces.onboarding import OnboardingStep, register_step


def _booking_missing(workspace) -> list[str]:
    missing = []
    if not BookingType.objects.for_workspace(workspace).filter(is_active=True).exists():
        missing.append("Add a service clients can book.")
    if not WorkingHours.objects.for_workspace(workspace).exists():
        missing.append("Set your opening hours.")
    return missing


register_step(OnboardingStep("booking", "Services and opening hours", 30, _booking_missing))
