"""The bookings dashboard and the owner's booking settings, included at the site root."""

from __future__ import annotations

from django.urls import path

from bookings import settings_views, views

urlpatterns = [
    path("bookings/", views.ScheduleView.as_view(), name="bookings"),
    path("bookings/calendar/", views.CalendarView.as_view(), name="bookings-calendar"),
    path("bookings/new/", views.BookingNewView.as_view(), name="booking-new"),
    path("bookings/feed/", settings_views.CalendarFeedView.as_view(), name="bookings-feed"),
    path("bookings/<int:pk>/", views.BookingDetailView.as_view(), name="booking-detail"),
    path("bookings/<int:pk>/status/", views.BookingStatusView.as_view(), name="booking-status"),
    path(
        "bookings/<int:pk>/reschedule/",
        views.BookingRescheduleView.as_view(),
        name="booking-reschedule",
    ),
    # The owner's settings: services, and when each calendar is open.
    path(
        "settings/booking-types/",
        settings_views.BookingTypeListView.as_view(),
        name="settings-booking-types",
    ),
    path(
        "settings/booking-types/new/",
        settings_views.BookingTypeFormView.as_view(),
        name="settings-booking-type-new",
    ),
    path(
        "settings/booking-types/<int:pk>/",
        settings_views.BookingTypeFormView.as_view(),
        name="settings-booking-type-edit",
    ),
    path(
        "settings/booking-types/<int:pk>/delete/",
        settings_views.BookingTypeDeleteView.as_view(),
        name="settings-booking-type-delete",
    ),
    path(
        "settings/availability/",
        settings_views.AvailabilityView.as_view(),
        name="settings-availability",
    ),
    path(
        "settings/availability/hours/",
        settings_views.WorkingHoursAddView.as_view(),
        name="settings-hours-add",
    ),
    path(
        "settings/availability/hours/<int:pk>/delete/",
        settings_views.WorkingHoursDeleteView.as_view(),
        name="settings-hours-delete",
    ),
    path(
        "settings/availability/overrides/",
        settings_views.OverrideAddView.as_view(),
        name="settings-override-add",
    ),
    path(
        "settings/availability/overrides/<int:pk>/delete/",
        settings_views.OverrideDeleteView.as_view(),
        name="settings-override-delete",
    ),
]
