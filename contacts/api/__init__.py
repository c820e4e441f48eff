"""REST API of contacts: the contact endpoints and CSV import/export."""

from __future__ import annotations

from contacts.api import contacts, imports


def register(router) -> None:
    contacts.register(router)
    imports.register(router)


urlpatterns = [*contacts.urlpatterns, *imports.urlpatterns]
