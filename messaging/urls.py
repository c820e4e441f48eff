"""Inbox pages, included at the site root."""

from __future__ import annotations

from django.urls import path

from messaging import views

urlpatterns = [
    path("inbox/", views.InboxView.as_view(), name="inbox"),
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
]
