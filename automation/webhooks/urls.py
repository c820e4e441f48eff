"""The owner's webhook pages (included by automation.urls, at the site root)."""

from __future__ import annotations

from django.urls import path

from automation.webhooks import views

urlpatterns = [
    path("settings/webhooks/", views.WebhookListView.as_view(), name="settings-webhooks"),
    path("settings/webhooks/new/", views.WebhookNewView.as_view(), name="settings-webhook-new"),
    path("settings/webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="settings-webhook"),
    path(
        "settings/webhooks/<int:pk>/test/",
        views.WebhookTestView.as_view(),
        name="settings-webhook-test",
    ),
    path(
        "settings/webhooks/<int:pk>/enable/",
        views.WebhookEnableView.as_view(),
        name="settings-webhook-enable",
    ),
    path(
        "settings/webhooks/<int:pk>/delete/",
        views.WebhookDeleteView.as_view(),
        name="settings-webhook-delete",
    ),
]
