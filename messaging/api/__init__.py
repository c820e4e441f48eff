"""REST API of messaging: conversations and messages, integrations, templates."""

from __future__ import annotations

from messaging.api import conversations, integrations, templates


def register(router) -> None:
    conversations.register(router)
    integrations.register(router)
    templates.register(router)


urlpatterns = [*conversations.urlpatterns, *integrations.urlpatterns, *templates.urlpatterns]
