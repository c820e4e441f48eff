"""Inventory pages, included at the site root."""

from __future__ import annotations

from django.urls import path
from django.views.generic import TemplateView

from careops.tenancy import WorkspacePageMixin


class InventoryListView(WorkspacePageMixin, TemplateView):  # placeholder, replaced
    template_name = "base.html"


urlpatterns: list = [path("inventory/", InventoryListView.as_view(), name="inventory")]
