"""REST API of automation: rules, runs and alerts."""

from __future__ import annotations

urlpatterns: list = []


def register(router) -> None:
    pass
