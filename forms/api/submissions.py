from __future__ import annotations

urlpatterns: list = []


def register(router) -> None:
    pass
