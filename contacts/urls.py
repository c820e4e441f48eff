"""Contacts pages, included at the site root."""

from __future__ import annotations

from django.urls import path

from contacts import views

urlpatterns = [
    path("contacts/", views.ContactListView.as_view(), name="contacts"),
    path("contacts/new/", views.ContactNewView.as_view(), name="contact-new"),
    path("contacts/import/", views.ContactImportView.as_view(), name="contacts-import"),
    path("contacts/export.csv", views.ContactExportView.as_view(), name="contacts-export"),
    path("contacts/<int:pk>/", views.ContactDetailView.as_view(), name="contact-detail"),
    path("c/<slug:slug>/", views.contact_form, name="contact-form"),
]
