"""The alerts staff act on (automation.alerts.catalogue): the open ones, and the acknowledged
or resolved ones on request. Owners see every kind; staff all but the owners' (failing
providers, whose page is the owners')."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from automation.alerts import alert_acknowledge, alert_area, alert_kinds_visible
from automation.selectors import alerts_for_workspace
from careops.tenancy import WorkspacePageMixin, area_denial

PAGE_SIZE = 25


class AlertsPageMixin(WorkspacePageMixin):
    def visible_alerts(self, *, is_open: bool | None = True):
        """The alerts of the areas open to the member (an owner: all)."""
        return alerts_for_workspace(
            workspace=self.request.workspace,
            is_open=is_open,
            kinds=alert_kinds_visible(self.request.membership),
        )

    def render(self, template: str, context: dict, status: int = 200):
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)


class AlertListView(AlertsPageMixin, View):
    def get(self, request):
        include_closed = request.GET.get("closed") == "1"
        alerts = self.visible_alerts(is_open=None if include_closed else True)
        page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"page_obj": page, "alerts": page.object_list, "include_closed": include_closed}
        return self.render("automation/alerts.html", context)


class AlertAcknowledgeView(AlertsPageMixin, View):
    """Staff saw it and act on it: htmx gets the alert's row back; a plain post goes back to
    the page it came from."""

    def post(self, request, pk: int):
        alert = get_object_or_404(self.visible_alerts(is_open=None), pk=pk)
        denial = area_denial(request.membership, alert_area(alert.kind), request.method)
        if denial is not None:
            raise PermissionDenied(denial)
        alert = alert_acknowledge(alert=alert, actor=request.user)
        if request.htmx:
            return self.render("automation/_alert.html", {"alert": alert})
        back = request.POST.get("next", "")
        if back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(back)
        return redirect("alerts")
