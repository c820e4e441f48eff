from __future__ import annotations

from django.urls import path
from django.views.generic import TemplateView

from careops.tenancy import WorkspacePageMixin


class SubmissionListView(WorkspacePageMixin, TemplateView):  # placeholder, replaced
    template_name = "base.html"


urlpatterns: list = [path("forms/", SubmissionListView.as_view(), name="forms")]
