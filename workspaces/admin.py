"""Support back office for accounts and workspaces."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.template.response import TemplateResponse

from careops.admin import SuperusersEditOnly
from careops.errors import InvalidInput
from workspaces import services
from workspaces.models import Area, Invitation, Membership, User, Workspace

# A staff member's level in each area (support reads them when someone "cannot see the inbox").
AREA_FIELDS = [f"{area}_access" for area in Area.values]


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user", "workspace"]
    fields = ["user", "workspace", "role", *AREA_FIELDS, "created_at"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(SuperusersEditOnly, DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "name"]
    readonly_fields = ["date_joined", "last_login"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ["email", "role", *AREA_FIELDS, "expires_at", "sent_at", "accepted_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class DeactivateForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For the team: why (members see only that support deactivated it).",
    )


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    """Business details are corrected here; the status moves only through the actions (go-live
    is the owner's, through onboarding). Domain apps add their inlines (messaging: the
    workspace's integrations, masked)."""

    list_display = ["name", "slug", "status", "timezone", "contact_email", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "slug", "contact_email", "contact_phone"]
    readonly_fields = [
        "slug",
        "status",
        "activated_at",
        "deactivated_at",
        "deactivated_reason",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    inlines = [MembershipInline, InvitationInline]
    actions = ["deactivate_selected", "reactivate_selected"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Every row of a workspace goes with it: `manage.py workspace_delete`, with its export.
        return False

    @admin.action(description="Deactivate selected workspaces", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        form = DeactivateForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            done = 0
            for workspace in queryset.exclude(status=Workspace.Status.DEACTIVATED):
                try:
                    services.workspace_deactivate(
                        workspace=workspace, actor=request.user, reason=form.cleaned_data["reason"]
                    )
                except InvalidInput as exc:  # pragma: no cover - the form checked the reason
                    self.message_user(request, exc.message, messages.ERROR)
                    return None
                self.log_change(request, workspace, f"Deactivated: {form.cleaned_data['reason']}")
                done += 1
            self.message_user(request, f"{done} workspace(s) deactivated.", messages.SUCCESS)
            return None
        # First the confirmation page, which asks why (and again if the reason was missing).
        context = {
            **self.admin_site.each_context(request),
            "title": "Deactivate workspaces",
            "opts": self.model._meta,
            "form": form,
            "workspaces": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/workspaces/workspace/deactivate.html", context)

    @admin.action(description="Reactivate selected workspaces", permissions=["change"])
    def reactivate_selected(self, request, queryset) -> None:
        done = 0
        for workspace in queryset.filter(status=Workspace.Status.DEACTIVATED):
            services.workspace_reactivate(workspace=workspace, actor=request.user)
            self.log_change(request, workspace, "Reactivated")
            done += 1
        self.message_user(request, f"{done} workspace(s) reactivated.", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", *AREA_FIELDS, "created_at"]
    list_filter = ["role", "created_at"]
    search_fields = ["user__email", "user__name", "workspace__name", "workspace__slug"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "status", "expires_at", "sent_at", "created_at"]
    list_filter = ["role", "created_at", "accepted_at"]
    search_fields = ["email", "workspace__name"]
    list_select_related = ["workspace"]
    autocomplete_fields = ["workspace"]
    readonly_fields = [
        "invited_by",
        "sent_at",
        "accepted_at",
        "accepted_by",
        "created_at",
        "updated_at",
    ]
