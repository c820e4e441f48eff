"""Support back office for forms: templates, the submissions sent to clients, and their files.

Templates and submissions belong to a workspace and are made in the product, so support reads
and corrects them here but does not add them. A template's fields change only through the
template services (which validate them and bump the version): read-only here. A submission is
a record of what the client answered and signed: read-only whole. Uploaded files are never
linked from here: storage paths are not public URLs, and clients' files are downloaded by the
workspace's staff through the page that checks access.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from bookings.models import BookingType
from forms.models import FormSubmission, FormTemplate, FormUpload


class FormTemplateAdminForm(forms.ModelForm):
    """The services a template is sent with are chosen among its workspace's."""

    class Meta:
        model = FormTemplate
        fields = ["booking_types"]  # ModelAdmin.get_form adds the others

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["booking_types"].queryset = BookingType.objects.for_workspace(
            self.instance.workspace_id
        ).order_by("name")


@admin.register(FormTemplate)
class FormTemplateAdmin(admin.ModelAdmin):
    form = FormTemplateAdminForm
    list_display = ["name", "workspace", "version", "is_active", "archived_at", "updated_at"]
    list_filter = ["is_active", "workspace"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace"]
    filter_horizontal = ["booking_types"]
    # Fields are validated and versioned by the template services: see the module docstring.
    readonly_fields = ["workspace", "fields", "version", "archived_at", "created_at", "updated_at"]
    fieldsets = (
        (None, {"fields": ("workspace", "name", "description", "is_active", "due_hours")}),
        ("Sent with", {"fields": ("booking_types",)}),
        ("Fields (edited in the form builder)", {"fields": ("fields", "version")}),
        ("Dates", {"fields": ("archived_at", "created_at", "updated_at")}),
    )
    ordering = ["workspace", "name"]

    def has_add_permission(self, request) -> bool:
        return False


class FormUploadInline(admin.TabularInline):
    """The files' records only: no link to the stored file (see the module docstring)."""

    model = FormUpload
    extra = 0
    fields = ["field_key", "original_name", "content_type", "size", "sha256", "created_at"]
    readonly_fields = fields
    ordering = ["field_key"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FormSubmission)
class FormSubmissionAdmin(admin.ModelAdmin):
    """Read-only: the answers, the signature and their fingerprint are the record."""

    list_display = [
        "template_name",
        "contact",
        "workspace",
        "status",
        "sent_at",
        "due_at",
        "completed_at",
    ]
    list_filter = ["status", "workspace", "sent_at"]
    search_fields = ["contact__email", "contact__phone", "contact__name", "template_name"]
    list_select_related = ["contact", "workspace"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "workspace",
                    "template",
                    "template_name",
                    "template_version",
                    "contact",
                    "booking",
                    "status",
                    "source",
                )
            },
        ),
        (
            "Dates",
            {"fields": ("sent_at", "sent_by", "due_at", "overdue_at", "completed_at")},
        ),
        ("Answers", {"fields": ("fields", "answers", "submitted_ip")}),
        (
            "Signature",
            {"fields": ("signed_name", "signed_at", "signed_ip", "answers_sha256")},
        ),
    )
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]
    date_hierarchy = "sent_at"
    ordering = ["-sent_at"]
    inlines = [FormUploadInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # support views the record (read-only page) but never changes it
