"""Forms pages, included at the site root: the builder, the submissions, and /f/<token>/."""

from __future__ import annotations

from forms.views import public, submissions, templates

urlpatterns = [*templates.urlpatterns, *submissions.urlpatterns, *public.urlpatterns]
