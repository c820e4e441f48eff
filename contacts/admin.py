"""Support back office for contacts, tags and merge records.

Contacts come from forms, bookings, imports and staff: support corrects and merges them here
but does not add them (a contact belongs to a workspace, which the admin forms do not choose).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from careops.admin import ReadOnlyAdmin
from careops.errors import DomainError
from contacts import services
from contacts.models import Contact, ContactMerge, Tag, normalize_email, normalize_phone
from contacts.services.edits import IDENTIFIABLE_MESSAGE


class ContactAdminForm(forms.ModelForm):
    """Email and phone stored the way the unique constraints compare them, and refused when
    another contact of the workspace has them; tags only from the contact's workspace."""

    class Meta:
        model = Contact
        fields = ["name", "email", "phone", "tags", "notes", "custom_fields"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = Tag.objects.for_workspace(
            self.instance.workspace_id
        ).order_by("name")

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data.get("email"))

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("phone"))

    def clean_custom_fields(self):
        try:
            return services.clean_custom_fields(self.cleaned_data.get("custom_fields"))
        except DomainError as exc:
            raise ValidationError(exc.fields["custom_fields"]) from None

    def clean(self):
        cleaned = super().clean()
        email, phone = cleaned.get("email", ""), cleaned.get("phone", "")
        if not (cleaned.get("name") or email or phone):
            raise ValidationError(IDENTIFIABLE_MESSAGE)
        taken = services.contact_identity_conflicts(
            workspace=self.instance.workspace_id,
            email=email,
            phone=phone,
            exclude_pk=self.instance.pk,
        )
        for field, other in taken.items():
            self.add_error(field, f"Contact #{other.pk} ({other}) already has this.")
        return cleaned


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ["name", "email", "phone", "workspace", "source", "created_at"]
    list_filter = ["source", "workspace"]
    search_fields = ["name", "email", "phone"]
    list_select_related = ["workspace"]
    filter_horizontal = ["tags"]
    readonly_fields = [
        "workspace",
        "source",
        "email_consent",
        "email_consent_at",
        "email_consent_source",
        "sms_consent",
        "sms_consent_at",
        "sms_consent_source",
        "created_at",
        "updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("workspace", "name", "email", "phone", "source")}),
        ("Details", {"fields": ("tags", "notes", "custom_fields")}),
        (
            "Consent (recorded where it was given; not edited here)",
            {
                "fields": (
                    ("email_consent", "email_consent_at", "email_consent_source"),
                    ("sms_consent", "sms_consent_at", "sms_consent_source"),
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    date_hierarchy = "created_at"
    actions = ["merge_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(
        description="Merge the two selected contacts (the older one survives)",
        permissions=["change"],
    )
    def merge_selected(self, request, queryset):
        contacts = list(queryset.order_by("created_at", "pk")[:3])
        if len(contacts) != 2:
            self.message_user(
                request, "Select exactly two contacts to merge.", level=messages.ERROR
            )
            return
        survivor, merged = contacts
        if survivor.workspace_id != merged.workspace_id:
            self.message_user(
                request,
                "These contacts belong to different workspaces and cannot be merged.",
                level=messages.ERROR,
            )
            return
        try:
            record = services.contact_merge(survivor=survivor, merged=merged, actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"Not merged: {exc.message}", level=messages.ERROR)
            return
        self.log_change(request, survivor, f"Merged contact #{record.merged_contact_id} into it")
        self.message_user(
            request,
            f"Merged #{record.merged_contact_id} into {survivor} (#{survivor.pk}).",
            level=messages.SUCCESS,
        )


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]
    list_select_related = ["workspace"]
    readonly_fields = ["workspace", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ContactMerge)
class ContactMergeAdmin(ReadOnlyAdmin):
    """The history of merges: read-only."""

    list_display = ["__str__", "merged_contact_id", "workspace", "actor", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["survivor__name", "survivor__email", "merged_contact_id"]
    list_select_related = ["survivor", "workspace", "actor"]
    fields = [
        "workspace",
        "survivor",
        "merged_contact_id",
        "merged_snapshot",
        "moved",
        "actor",
        "created_at",
    ]
    readonly_fields = fields
