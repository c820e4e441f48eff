"""Inventory pages, included at the site root."""

from __future__ import annotations

from django.urls import path

from inventory import views
from inventory.models import InventoryUsage

Kind = InventoryUsage.Kind

urlpatterns = [
    path("inventory/", views.InventoryListView.as_view(), name="inventory"),
    path("inventory/new/", views.InventoryNewView.as_view(), name="inventory-new"),
    path("inventory/<int:pk>/", views.InventoryDetailView.as_view(), name="inventory-detail"),
    path("inventory/<int:pk>/edit/", views.InventoryEditView.as_view(), name="inventory-edit"),
    path(
        "inventory/<int:pk>/usage/",
        views.StockMoveView.as_view(kind=Kind.USAGE),
        name="inventory-usage",
    ),
    path(
        "inventory/<int:pk>/restock/",
        views.StockMoveView.as_view(kind=Kind.RESTOCK),
        name="inventory-restock",
    ),
    path(
        "inventory/<int:pk>/correction/",
        views.StockMoveView.as_view(kind=Kind.CORRECTION),
        name="inventory-correction",
    ),
    path(
        "inventory/<int:pk>/consumptions/",
        views.ConsumptionView.as_view(),
        name="inventory-consumptions",
    ),
]
