"""REST API of bookings: bookings, public booking and slots, booking types and availability."""

from __future__ import annotations

from bookings.api import bookings, setup


def register(router) -> None:
    bookings.register(router)
    setup.register(router)


urlpatterns = [*bookings.urlpatterns, *setup.urlpatterns]
