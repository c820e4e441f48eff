"""The public pages, at the site root: /b/<workspace-slug>/ to book, /booking/<token>/ behind
the client's signed link (outside /b/, so that no workspace slug can shadow it), /calendar/ for
calendar apps."""

from __future__ import annotations

from django.urls import path

from bookings import public_views

urlpatterns = [
    path("booking/<str:token>/", public_views.booking_manage, name="booking-manage"),
    path("booking/<str:token>/booking.ics", public_views.booking_ics_download, name="booking-ics"),
    path("b/<slug:slug>/", public_views.booking_page, name="booking-page"),
    path(
        "b/<slug:slug>/done/<str:token>/",
        public_views.booking_confirmed,
        name="booking-confirmed",
    ),
    path(
        "b/<slug:slug>/<slug:type_slug>/",
        public_views.booking_page_type,
        name="booking-page-type",
    ),
    path("calendar/<str:token>.ics", public_views.calendar_feed, name="calendar-feed"),
]
