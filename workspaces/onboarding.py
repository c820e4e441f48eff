"""The onboarding checklist: steps a workspace completes before it goes live.

Each domain app registers its own steps in its AppConfig.ready() (a communication channel,
booking types with availability, ...), so this app imports none of them. A step's check reads
the workspace's current data and returns what is still missing; nothing is stored twice.

A step also carries what the owner's setup wizard (workspaces/views_onboarding.py) shows for it,
since the wizard cannot import the app that knows: `links` to the pages where the work is done,
a `summary` of what is there now, and optionally its own `template` (a partial the wizard
includes instead of the summary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workspaces.models import Workspace

# The wizard's last page; no registered step may take its key.
REVIEW_KEY = "review"


@dataclass(frozen=True)
class OnboardingStep:
    key: str
    title: str
    order: int
    check: Callable[[Workspace], list[str]]
    required: bool = True
    # Presentation, for the wizard and the dashboard checklist.
    description: str = ""  # one or two sentences: what the step is for
    links: tuple[tuple[str, str], ...] = ()  # (label, URL name) of each page the step involves
    summary: Callable[[Workspace], list[str]] | None = None  # "2 services", "Hours: Mon-Fri"
    template: str = ""  # a partial that replaces the wizard's summary and links

    def summary_lines(self, workspace: Workspace) -> list[str]:
        return self.summary(workspace) if self.summary else []


@dataclass(frozen=True)
class StepStatus:
    key: str
    title: str
    required: bool
    done: bool
    missing: list[str]


_STEPS: dict[str, OnboardingStep] = {}


def register_step(step: OnboardingStep) -> None:
    if step.key == REVIEW_KEY:
        raise ValueError(f"'{REVIEW_KEY}' is the wizard's own last page, not a step key.")
    _STEPS[step.key] = step


def onboarding_steps() -> list[OnboardingStep]:
    """The registered steps, in the order the owner takes them."""
    return sorted(_STEPS.values(), key=lambda s: s.order)


def onboarding_step(key: str) -> OnboardingStep | None:
    return _STEPS.get(key)


def onboarding_status(workspace: Workspace) -> list[StepStatus]:
    statuses = []
    for step in onboarding_steps():
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
        "business_details",
        "Business details and time zone",
        10,
        _business_details_missing,
        description=(
            "How clients know and reach you. Times on your pages, messages and calendars "
            "follow the time zone."
        ),
        template="workspaces/_onboarding_business_details.html",
    )
)
register_step(
    OnboardingStep(
        "team",
        "Staff invitations",
        90,
        _team_missing,
        required=False,
        description=(
            "Invite the people who work with you: staff run the day, owners also the setup."
        ),
        template="workspaces/_onboarding_team.html",
    )
)
