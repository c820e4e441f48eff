"""The onboarding step messaging adds: a way to reach clients."""

from __future__ import annotations

from messaging.models import Integration
from workspaces.onboarding import OnboardingStep, register_step


def _channel_missing(workspace) -> list[str]:
    if Integration.objects.for_workspace(workspace).filter(is_active=True).exists():
        return []
    return ["Connect an email or SMS provider, so that messages reach your clients."]


register_step(OnboardingStep("communication", "Email or SMS channel", 20, _channel_missing))
