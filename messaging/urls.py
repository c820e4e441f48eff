"""Inbox pages and the owner's messaging settings, included at the site root."""

from __future__ import annotations

from django.urls import path

from messaging import settings_views, views

urlpatterns = [
    path("inbox/", views.InboxView.as_view(), name="inbox"),
    path("inbox/notices/<int:pk>/done/", views.NoticeDoneView.as_view(), name="inbox-notice-done"),
    path("inbox/list/", views.ConversationListPartialView.as_view(), name="inbox-list"),
    path("inbox/<int:pk>/", views.ConversationView.as_view(), name="inbox-conversation"),
    path("inbox/<int:pk>/messages/", views.NewMessagesView.as_view(), name="inbox-messages"),
    path("inbox/<int:pk>/reply/", views.ReplyView.as_view(), name="inbox-reply"),
    path("inbox/<int:pk>/canned/", views.CannedReplyView.as_view(), name="inbox-canned"),
    path(
        "inbox/<int:pk>/messages/<int:message_id>/retry/",
        views.RetryView.as_view(),
        name="inbox-retry",
    ),
    path("inbox/<int:pk>/automation/", views.AutomationView.as_view(), name="inbox-automation"),
    path("inbox/<int:pk>/update/", views.ConversationUpdateView.as_view(), name="inbox-update"),
    # The owner's settings: providers and message templates.
    path(
        "settings/integrations/",
        settings_views.IntegrationListView.as_view(),
        name="settings-integrations",
    ),
    path(
        "settings/integrations/new/",
        settings_views.IntegrationNewView.as_view(),
        name="settings-integration-new",
    ),
    path(
        "settings/integrations/<int:pk>/test/",
        settings_views.IntegrationTestView.as_view(),
        name="settings-integration-test",
    ),
    path(
        "settings/integrations/<int:pk>/delete/",
        settings_views.IntegrationDeleteView.as_view(),
        name="settings-integration-delete",
    ),
    path(
        "settings/templates/", settings_views.TemplateListView.as_view(), name="settings-templates"
    ),
    path(
        "settings/templates/new/",
        settings_views.TemplateFormView.as_view(),
        name="settings-template-new",
    ),
    path(
        "settings/templates/preview/",
        settings_views.TemplatePreviewView.as_view(),
        name="settings-template-preview",
    ),
    path(
        "settings/templates/<int:pk>/",
        settings_views.TemplateFormView.as_view(),
        name="settings-template-edit",
    ),
    path(
        "settings/templates/<int:pk>/delete/",
        settings_views.TemplateDeleteView.as_view(),
        name="settings-template-delete",
    ),
]
