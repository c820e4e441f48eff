"""The owners' setup wizard: a page per onboarding step, then a review that puts the workspace live.

The steps are the ones the apps register (workspaces/onboarding.py), and their data lives in
each app's own tables: the wizard stores nothing, so leaving and coming back resumes at the first
step not done. Business details and staff invitations belong to this app and are saved here;
every other step shows what its app summarises and links to the pages where the work is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from careops.errors import DomainError
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from workspaces import selectors, services
from workspaces.forms import InvitationForm, WorkspaceDetailsForm
from workspaces.onboarding import (
    REVIEW_KEY,
    StepStatus,
    onboarding_status,
    onboarding_step,
    onboarding_steps,
)
from workspaces.views_team import invitation_from_form

REVIEW_TITLE = "Review and go live"
SUMMARY_TEMPLATE = "workspaces/_onboarding_summary.html"
REVIEW_TEMPLATE = "workspaces/_onboarding_review.html"


def _step_url(key: str) -> str:
    return reverse("onboarding-step", args=[key])


def first_step_to_do(statuses: list[StepStatus]) -> str:
    """Where the wizard resumes: the first step not done, or the review once every required
    step is done (the optional ones left are the owner's choice)."""
    if all(s.done for s in statuses if s.required):
        return REVIEW_KEY
    return next(s.key for s in statuses if not s.done)


@dataclass(frozen=True)
class StepperEntry:
    number: int
    key: str
    title: str
    done: bool
    required: bool
    url: str


class OnboardingPageMixin(WorkspacePageMixin):
    owner_only = True


class OnboardingStartView(OnboardingPageMixin, View):
    """/onboarding/: resume where the owner left off."""

    def get(self, request):
        return redirect("onboarding-step", first_step_to_do(onboarding_status(request.workspace)))


class OnboardingStepView(OnboardingPageMixin, View):
    """One step's page. GET shows it; POST saves the steps that have a form here (business
    details, an invitation) and, on the review, activates the workspace."""

    def get(self, request, step: str):
        return self.page(step)

    def post(self, request, step: str):
        handler = {
            "business_details": self.save_details,
            "team": self.invite,
            REVIEW_KEY: self.activate,
        }.get(step)
        if handler is None:
            if onboarding_step(step) is None:
                raise Http404("No such setup step.")
            return HttpResponseNotAllowed(["GET"])
        return handler()

    # --- Rendering ------------------------------------------------------------------------

    def page(self, key: str, *, status: int = 200, **extra: Any) -> HttpResponse:
        workspace = self.request.workspace
        statuses = onboarding_status(workspace)
        keys = [s.key for s in statuses] + [REVIEW_KEY]
        if key not in keys:
            raise Http404("No such setup step.")
        index = keys.index(key)
        stepper = [
            StepperEntry(n, s.key, s.title, s.done, s.required, _step_url(s.key))
            for n, s in enumerate(statuses, start=1)
        ]
        stepper.append(
            StepperEntry(
                len(keys),
                REVIEW_KEY,
                REVIEW_TITLE,
                workspace.is_active,
                True,
                _step_url(REVIEW_KEY),
            )
        )
        step = onboarding_step(key)
        context: dict[str, Any] = {
            "stepper": stepper,
            "current": stepper[index],
            "total": len(keys),
            "step": step,
            "status": statuses[index] if step else None,
            "previous": stepper[index - 1] if index > 0 else None,
            "next": stepper[index + 1] if index + 1 < len(keys) else None,
            "site_url": settings.SITE_URL,
        }
        if step is None:
            context.update(self.review_context(statuses), body_template=REVIEW_TEMPLATE)
        else:
            context.update(
                body_template=step.template or SUMMARY_TEMPLATE,
                summary=step.summary_lines(workspace),
                links=[(label, reverse(name)) for label, name in step.links],
            )
            context.update(self.step_context(key))
        context.update(extra)
        return render(self.request, "workspaces/onboarding_step.html", context, status=status)

    def step_context(self, key: str) -> dict[str, Any]:
        workspace = self.request.workspace
        if key == "business_details":
            form = WorkspaceDetailsForm(initial=_details_initial(workspace))
            return {"form": form, "form_step": True}
        if key == "team":
            return {
                "form": InvitationForm(),
                "members": selectors.memberships_for_workspace(workspace=workspace),
                "invitations": selectors.invitations_for_workspace(workspace=workspace).pending(),
            }
        return {}

    def review_context(self, statuses: list[StepStatus]) -> dict[str, Any]:
        rows = [(s, _step_url(s.key)) for s in statuses]
        return {
            "review_rows": rows,
            "blocking": [(s, url) for s, url in rows if s.required and not s.done],
        }

    # --- Saving -----------------------------------------------------------------------------

    def save_details(self) -> HttpResponse:
        request = self.request
        form = WorkspaceDetailsForm(request.POST)
        if form.is_valid():
            try:
                services.workspace_update(
                    workspace=request.workspace, actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
                # The service set the refused values on the instance the page shows.
                request.workspace.refresh_from_db()
            else:
                messages.success(request, "Business details saved.")
                return redirect("onboarding-step", _key_after("business_details"))
        return self.page("business_details", status=400, form=form)

    def invite(self) -> HttpResponse:
        form = InvitationForm(self.request.POST)
        if invitation_from_form(self.request, form) is not None:
            return redirect("onboarding-step", "team")
        return self.page("team", status=400, form=form)

    def activate(self) -> HttpResponse:
        request = self.request
        try:
            services.workspace_activate(workspace=request.workspace, actor=request.user)
        except services.OnboardingIncomplete as exc:
            return self.page(REVIEW_KEY, status=409, activation_error=exc.message)
        messages.success(request, f"{request.workspace.name} is live: clients can book now.")
        return redirect("dashboard")


def _key_after(key: str) -> str:
    keys = [s.key for s in onboarding_steps()] + [REVIEW_KEY]
    return keys[keys.index(key) + 1]


def _details_initial(workspace) -> dict[str, str]:
    return {field: getattr(workspace, field) for field in services.WORKSPACE_FIELDS}
