"""The onboarding checklist: steps a workspace completes before it goes live.

Each domain app registers its own steps in its AppConfig.ready() (a communication channel,
booking types with availability, ...), so this app imports none of them. A step's check reads
the workspace's current data and returns what is still missing; nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workspaces.models import Workspace


@dataclass(frozen=True)
class OnboardingStep:
    key: str
    title: str
    order: int
    check: Callable[[Workspace], list[str]]
    required: bool = True


@dataclass(frozen=True)
class StepStatus:
    key: str
    title: str
    required: bool
    done: bool
    missing: list[str]


_STEPS: dict[str, OnboardingStep] = {}


def register_step(step: OnboardingStep) -> None:
    _STEPS[step.key] = step


def onboarding_status(workspace: Workspace) -> list[StepStatus]:
    statuses = []
    for step in sorted(_STEPS.values(), key=lambda s: s.order):
        missing = step.check(workspace)
        statuses.append(
            StepStatus(step.key, step.title, step.required, done=not missing, missing=missing)
        )
    return statuses


def unmet_required_steps(workspace: Workspace) -> list[StepStatus]:
    return [s for s in onboarding_status(workspace) if s.required and not s.done]


def _business_details_missing(workspace: Workspace) -> list[str]:
    missing = []
    if not workspace.name.strip():
        missing.append("A business name.")
    if not (workspace.contact_email or workspace.contact_phone):
        missing.append("A contact email or phone number for clients.")
    if not workspace.address.strip():
        missing.append("The business address.")
    return missing


def _team_missing(workspace: Workspace) -> list[str]:
    if workspace.memberships.count() > 1 or workspace.invitations.pending().exists():
        return []
    return ["Invite your staff (optional: you can work alone)."]


register_step(
    OnboardingStep(
        "business_details", "Business details and time zone", 10, _business_details_missing
    )
)
register_step(OnboardingStep("team", "Staff invitations", 90, _team_missing, required=False))
