"""The dashboard home. Later issues fill its panels from each app's selectors."""

from __future__ import annotations

from django.urls import reverse
from django.views.generic import TemplateView

from automation.selectors import alerts_for_workspace
from bookings.selectors import bookings_today
from careops.tenancy import WorkspacePageMixin
from workspaces.onboarding import onboarding_status

# The page where the owner completes an onboarding step, by step key.
ONBOARDING_PAGES = {
    "communication": "settings-integrations",
    "booking": "settings-booking-types",
    "inventory": "inventory",
    "forms": "form-templates",
}

TODAY_LIMIT = 8  # bookings the Today panel lists; the schedule page has the rest
ALERTS_LIMIT = 8  # open alerts the Alerts panel lists; the alerts page has the rest


class DashboardView(WorkspacePageMixin, TemplateView):
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        membership = self.request.membership
        if membership.is_owner and not membership.workspace.is_active:
            context["onboarding_steps"] = [
                (step, reverse(ONBOARDING_PAGES[step.key]) if step.key in ONBOARDING_PAGES else "")
                for step in onboarding_status(membership.workspace)
            ]
        today = list(bookings_today(workspace=membership.workspace)[: TODAY_LIMIT + 1])
        context["today_bookings"] = today[:TODAY_LIMIT]
        context["today_more"] = len(today) > TODAY_LIMIT
        alerts = list(alerts_for_workspace(workspace=membership.workspace)[: ALERTS_LIMIT + 1])
        context["alerts"] = alerts[:ALERTS_LIMIT]
        context["alerts_more"] = len(alerts) > ALERTS_LIMIT
        return context
