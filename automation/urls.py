"""Automation pages, included at the site root: the owner's rules, webhooks and the alerts."""

from __future__ import annotations

from django.urls import path

from automation.views import alerts, rules
from automation.webhooks.urls import urlpatterns as webhook_urlpatterns

urlpatterns = [
    path("settings/automation/", rules.RuleListView.as_view(), name="settings-automation"),
    path(
        "settings/automation/<int:pk>/",
        rules.RuleEditView.as_view(),
        name="settings-automation-rule",
    ),
    path(
        "settings/automation/<int:pk>/toggle/",
        rules.RuleToggleView.as_view(),
        name="settings-automation-rule-toggle",
    ),
    path(
        "settings/automation/<int:pk>/try/",
        rules.RuleTryView.as_view(),
        name="settings-automation-rule-try",
    ),
    path("alerts/", alerts.AlertListView.as_view(), name="alerts"),
    path(
        "alerts/<int:pk>/acknowledge/",
        alerts.AlertAcknowledgeView.as_view(),
        name="alert-acknowledge",
    ),
    *webhook_urlpatterns,
]
