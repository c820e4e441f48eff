"""REST API of automation: rules, runs, alerts and outbound webhooks."""

from __future__ import annotations

from automation.api import alerts, rules, runs
from automation.webhooks.api import WebhookEndpointViewSet

urlpatterns: list = []


def register(router) -> None:
    router.register("automation/rules", rules.RuleViewSet, basename="automation-rule")
    router.register("automation/runs", runs.AutomationRunViewSet, basename="automation-run")
    router.register("alerts", alerts.AlertViewSet, basename="alert")
    router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
