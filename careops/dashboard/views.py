"""The dashboard home: an owner's day and business at a glance, a staff member's own day.

The panels refresh themselves every minute through htmx (`dashboard-panels`, the same panels
without the page around them); the owner's figures change period through `dashboard-figures`.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.views.generic import TemplateView

from bookings.models import Booking
from careops.dashboard.charts import bar_chart, grouped_bar_chart
from careops.dashboard.panels import panels_for
from careops.dashboard.stats import dashboard_stats, period_parse
from careops.errors import InvalidInput
from careops.tenancy import WorkspacePageMixin
from workspaces.onboarding import onboarding_status

PERIODS = [("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days")]


def figures_context(request) -> dict:
    """The owner's key figures for the period the request asks for (the default on bad input,
    with the problem said beside the period picker)."""
    workspace = request.workspace
    errors: dict[str, list[str]] = {}
    try:
        period = period_parse(workspace=workspace, params=request.GET)
    except InvalidInput as exc:
        errors = exc.fields or {"period": [exc.message]}
        period = period_parse(workspace=workspace, params={})
    stats = dashboard_stats(workspace=workspace, period=period)
    bookings_chart = bar_chart(
        [(point["date"], point["count"]) for point in stats["bookings"]["per_day"]]
    )
    messages_chart = grouped_bar_chart(
        [
            (point["date"], (point["inbound"], point["outbound"]))
            for point in stats["messages"]["per_day"]
        ],
        series=("inbound", "outbound"),
    )
    return {
        "stats": stats,
        # In the workspace's time: its figures may be a minute old (dashboard_stats).
        "computed_at": datetime.fromisoformat(stats["computed_at"])
        .astimezone(period.zone)
        .strftime("%H:%M"),
        "period": period,
        "period_value": request.GET.get("period", "") if not errors else "",
        "period_errors": [problem for problems in errors.values() for problem in problems],
        "periods": PERIODS,
        "bookings_chart": bookings_chart,
        "messages_chart": messages_chart,
        "status_counts": [
            (value, label, stats["bookings"]["by_status"].get(value, 0))
            for value, label in Booking.Status.choices
        ],
    }


class DashboardView(WorkspacePageMixin, TemplateView):
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        membership = self.request.membership
        workspace = membership.workspace
        if membership.is_owner and not workspace.is_active:
            context["onboarding_steps"] = onboarding_status(workspace)
            context["onboarding_url"] = reverse("onboarding")
        context["panels"] = panels_for(membership)
        if membership.is_owner:
            context.update(figures_context(self.request))
        return context


class DashboardPanelsView(WorkspacePageMixin, TemplateView):
    """The panels alone, for htmx's refresh every minute."""

    template_name = "dashboard/_panels.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["panels"] = panels_for(self.request.membership)
        return context


class DashboardFiguresView(WorkspacePageMixin, TemplateView):
    """The owner's figures alone, for another period."""

    template_name = "dashboard/_figures.html"
    owner_only = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(figures_context(self.request))
        return context
