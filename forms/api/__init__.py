"""REST API of forms: templates (templates.py) and submissions (submissions.py, with the
public POST by token)."""

from __future__ import annotations

from forms.api import submissions, templates

urlpatterns = [*templates.urlpatterns, *submissions.urlpatterns]


def register(router) -> None:
    templates.register(router)
    submissions.register(router)
