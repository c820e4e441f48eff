"""The onboarding step messaging adds: a way to reach clients."""

from __future__ import annotations

from messaging.models import Integration
from messaging.providers import PROVIDERS
from messaging.selectors import integrations_for_workspace
from workspaces.onboarding import OnboardingStep, register_step

WHEN = "j M Y, H:i"


def _channel_missing(workspace) -> list[str]:
    if Integration.objects.for_workspace(workspace).filter(is_active=True).exists():
        return []
    return ["Connect an email or SMS provider, so that messages reach your clients."]


def _integration_line(workspace, integration: Integration) -> str:
    spec = PROVIDERS.get(integration.provider)
    label = spec.label if spec else integration.provider
    line = f"{integration.get_channel_display()}: {label} ({integration.from_address})"
    if not integration.is_active:
        return f"{line}, switched off."
    success, error = integration.last_success_at, integration.last_error_at
    if error and (success is None or error > success):
        return f"{line}: the last send failed ({integration.last_error}). Send a test again."
    if success:
        return f"{line}: sent successfully, last on {workspace.local_text(success, WHEN)}."
    return f"{line}: not tested yet. Send a test to check that it works."


def _channel_summary(workspace) -> list[str]:
    """One line per provider, with whether a test (or a real message) has gone through."""
    return [
        _integration_line(workspace, i) for i in integrations_for_workspace(workspace=workspace)
    ]


register_step(
    OnboardingStep(
        "communication",
        "Email or SMS channel",
        20,
        _channel_missing,
        description=(
            "Confirmations, reminders and your replies reach clients through an email or SMS "
            "provider. Add one, then send a test to check that it works."
        ),
        links=(("Add a provider and send a test", "settings-integrations"),),
        summary=_channel_summary,
    )
)
