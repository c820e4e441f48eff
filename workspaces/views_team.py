"""The owner's team page: who is in the workspace, what each staff member may open (per area),
the invitations still waiting, and a new invitation with the areas it starts with.

Owners only. Every action is a plain form post that comes back to the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from careops.errors import DomainError
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from workspaces import selectors, services
from workspaces.forms import AreaAccessForm, InvitationForm
from workspaces.models import Invitation


class TeamPageMixin(WorkspacePageMixin):
    owner_only = True

    def members(self):
        return selectors.memberships_for_workspace(workspace=self.request.workspace)

    def page(self, *, status: int = 200, form=None, access_forms=None):
        request = self.request
        members = list(self.members())
        access_forms = access_forms or {}
        rows = [
            (
                membership,
                None
                if membership.is_owner
                else access_forms.get(
                    membership.pk,
                    AreaAccessForm(initial=membership.access_fields(), prefix=f"m{membership.pk}"),
                ),
            )
            for membership in members
        ]
        context = {
            "rows": rows,
            "invitations": selectors.invitations_for_workspace(
                workspace=request.workspace
            ).pending(),
            "form": form or InvitationForm(),
        }
        return render(request, "workspaces/settings_team.html", context, status=status)


def invitation_from_form(request, form: InvitationForm) -> Invitation | None:
    """Invite from the form (the team page's, the onboarding wizard's), with the areas the
    staff member starts with; None, with the problems on the form, when it is refused."""
    if not form.is_valid():
        return None
    try:
        invitation = services.invitation_create(
            workspace=request.workspace,
            actor=request.user,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            access=form.access(),
        )
    except DomainError as exc:
        add_domain_errors(form, exc)
        return None
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return invitation


class TeamView(TeamPageMixin, View):
    def get(self, request):
        return self.page()

    def post(self, request):
        form = InvitationForm(request.POST)
        if invitation_from_form(request, form) is not None:
            return redirect("settings-team")
        return self.page(status=400, form=form)


class MemberAccessView(TeamPageMixin, View):
    def post(self, request, pk: int):
        membership = get_object_or_404(self.members(), pk=pk)
        form = AreaAccessForm(request.POST, prefix=f"m{membership.pk}")
        if form.is_valid():
            try:
                services.membership_access_update(
                    membership=membership, actor=request.user, access=form.access()
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"Saved what {membership.user} may open.")
                return redirect("settings-team")
        return self.page(status=400, access_forms={membership.pk: form})


class MemberRemoveView(TeamPageMixin, View):
    def post(self, request, pk: int):
        membership = get_object_or_404(self.members(), pk=pk)
        try:
            services.membership_remove(membership=membership, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("settings-team")
        messages.success(request, f"{membership.user} is no longer in the team.")
        return redirect("settings-team")


class InvitationRevokeView(TeamPageMixin, View):
    def post(self, request, pk: int):
        invitation = get_object_or_404(
            selectors.invitations_for_workspace(workspace=request.workspace), pk=pk
        )
        try:
            services.invitation_revoke(invitation=invitation, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Invitation to {invitation.email} withdrawn.")
        return redirect("settings-team")
