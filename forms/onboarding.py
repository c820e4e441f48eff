"""The onboarding step forms adds (optional): intake forms and the services that send them."""

from __future__ import annotations

from forms.models import FormTemplate
from workspaces.onboarding import OnboardingStep, register_step


def _forms_missing(workspace) -> list[str]:
    if FormTemplate.objects.for_workspace(workspace).filter(archived_at__isnull=True).exists():
        return []
    return ["Create an intake form and choose the services that send it (optional)."]


register_step(OnboardingStep("forms", "Intake forms", 40, _forms_missing, required=False))
