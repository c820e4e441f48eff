"""The onboarding step contacts adds: the public contact form, to share or embed.

Every workspace has one from the start (/c/<slug>/), so the step is never missing anything;
it is in the wizard so that the owner sees the link, a preview and the embed snippet.
"""

from __future__ import annotations

from workspaces.onboarding import OnboardingStep, register_step


def _contact_form_missing(workspace) -> list[str]:
    return []


register_step(
    OnboardingStep(
        "contact_form",
        "Contact form",
        25,
        _contact_form_missing,
        required=False,
        description=(
            "Visitors write to you through this form; each message opens a conversation in "
            "your inbox and adds the visitor to your contacts. Share the link, or embed the "
            "form on your own website."
        ),
        template="workspaces/_onboarding_contact_form.html",
    )
)
