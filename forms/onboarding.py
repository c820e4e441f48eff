"""The onboarding step forms adds (optional): intake forms and the services that send them."""

from __future__ import annotations

from forms.models import FormTemplate
from forms.selectors import templates_for_workspace
from workspaces.onboarding import OnboardingStep, register_step


def _forms_missing(workspace) -> list[str]:
    if FormTemplate.objects.for_workspace(workspace).filter(archived_at__isnull=True).exists():
        return []
    return ["Create an intake form and choose the services that send it (optional)."]


def _forms_summary(workspace) -> list[str]:
    """Each live form with the services that send it (two queries, any number of forms)."""
    lines = []
    for template in templates_for_workspace(workspace=workspace):
        services = ", ".join(t.name for t in template.booking_types.all())
        sent = f"sent for {services}" if services else "not sent for any service yet"
        off = "" if template.is_active else ", switched off"
        lines.append(f"{template.name}: {sent}{off}.")
    return lines


register_step(
    OnboardingStep(
        "forms",
        "Intake forms",
        40,
        _forms_missing,
        required=False,
        description=(
            "Forms clients fill in before they come, sent with the booking confirmation of the "
            "services you link them to."
        ),
        links=(("Create or edit forms", "form-templates"),),
        summary=_forms_summary,
    )
)
