"""Support back office for forms: templates, the submissions sent to clients, and their files.

Templates and submissions belong to a workspace and are made in the product, so support reads
and corrects them here but does not add them. A template is saved through the template services
(forms.services.template_update), whose refusals (a live template's name taken, in any case)
show on the form's inputs; its fields change only in the builder (read-only here), and an
archived template is read-only whole (archiving is final: the product never revives one).
A submission is a record of what the client answered and signed: read-only whole. Uploaded
files are never linked from here: storage paths are not public URLs, and clients' files are
downloaded by the workspace's staff through the page that checks access.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from bookings.models import BookingType
from careops.admin import ReadOnlyAdmin
from careops.errors import DomainError
from forms.models import FormSubmission, FormTemplate, FormUpload
from forms.services import template_update
from forms.services.templates import template_check

# The template's own columns support may change; booking_types is the service's booking_type_ids.
EDITABLE = ("name", "description", "is_active", "due_hours")


def template_changes(cleaned_data: dict) -> dict:
    changes = {name: cleaned_data[name] for name in EDITABLE if name in cleaned_data}
    if "booking_types" in cleaned_data:
        changes["booking_type_ids"] = [t.pk for t in cleaned_data["booking_types"]]
    return changes


class FormTemplateAdminForm(forms.ModelForm):
    """The services a template is sent with are chosen among its workspace's."""

    class Meta:
        model = FormTemplate
        fields = ["booking_types"]  # ModelAdmin.get_form adds the others

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "booking_types" in self.fields:
            self.fields["booking_types"].queryset = BookingType.objects.for_workspace(
                self.instance.workspace_id
            ).order_by("name")

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk is None:
            return cleaned
        try:
            template_check(template=self.instance, **template_changes(cleaned))
        except DomainError as exc:
            for name, problems in exc.fields.items():
                target = "booking_types" if name == "booking_type_ids" else name
                for problem in problems:
                    self.add_error(target if target in self.fields else None, problem)
            if not exc.fields:
                self.add_error(None, exc.message)
        return cleaned


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

    def has_change_permission(self, request, obj=None) -> bool:
        # Archived: read-only (the service refuses every change to it, and "Active" ticked on
        # an archived template is what the database's check constraint forbids).
        if obj is not None and obj.archived_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        # Through the service, which the form's clean() has already asked (template_check).
        template_update(template=obj, actor=request.user, **template_changes(form.cleaned_data))

    def save_related(self, request, form, formsets, change) -> None:
        # booking_types were saved by template_update (as booking_type_ids).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


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


@admin.register(FormUpload)
class FormUploadAdmin(ReadOnlyAdmin):
    """The uploaded files' records, across submissions: read-only, never linked (see above)."""

    list_display = [
        "original_name",
        "submission",
        "field_key",
        "content_type",
        "size",
        "workspace",
        "created_at",
    ]
    list_filter = ["content_type", "created_at", "workspace"]
    search_fields = ["original_name", "=sha256", "submission__contact__email"]
    list_select_related = ["submission__contact", "workspace"]
    exclude = ["file"]
    readonly_fields = [
        "workspace",
        "submission",
        "field_key",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "created_at",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
