"""Pages for signing up, creating a workspace, switching workspace and accepting invitations.

Sign-in, sign-out and password reset are Django's own views (see careops/urls.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from careops.errors import DomainError
from careops.forms import add_domain_errors
from careops.tenancy import SESSION_KEY, switch_workspace
from workspaces import services
from workspaces.forms import InvitedSignupForm, SignupForm, WorkspaceForm

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _sign_in_to(request, user, workspace_id):
    """A new account's first stop: signed in, in the workspace it just joined or created."""
    login(request, user, backend=AUTH_BACKEND)
    request.session[SESSION_KEY] = workspace_id
    return redirect("dashboard")


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, membership = services.user_register(
                email=data["email"],
                password=data["password"],
                name=data["name"],
                workspace_name=data["workspace_name"],
                workspace_timezone=data["timezone"],
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            return _sign_in_to(request, user, membership.workspace_id)
    return render(request, "workspaces/signup.html", {"form": form})


@login_required
def workspace_new(request):
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(
                owner=request.user,
                name=form.cleaned_data["workspace_name"],
                timezone=form.cleaned_data["timezone"],
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            request.session[SESSION_KEY] = workspace.pk
            messages.success(request, f"{workspace.name} is ready to set up.")
            return redirect("dashboard")
    return render(request, "workspaces/workspace_new.html", {"form": form})


@login_required
@require_POST
def workspace_switch(request):
    workspace = switch_workspace(request, request.POST.get("workspace_id"))
    messages.info(request, f"Now working in {workspace.name}.")
    target = request.POST.get("next") or reverse("dashboard")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("dashboard")
    return redirect(target)


def invitation_accept(request, token: str):
    """The link in an invitation email: accept it signed in, or create the account first."""
    try:
        invitation = services.invitation_from_token(token)
    except DomainError as exc:
        problem = exc.fields.get("token", [exc.message])[0]
        return render(
            request, "workspaces/invitation_invalid.html", {"problem": problem}, status=400
        )

    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "invitation_areas": invitation.area_levels(),
    }
    user = request.user
    if user.is_authenticated:
        if request.method == "POST":
            try:
                membership = services.invitation_accept(invitation=invitation, user=user)
            except DomainError as exc:
                context["problem"] = exc.message
            else:
                request.session[SESSION_KEY] = membership.workspace_id
                messages.success(request, f"Welcome to {invitation.workspace.name}.")
                return redirect("dashboard")
        return render(request, "workspaces/invitation.html", context)

    form = InvitedSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_user, membership = services.user_register(
                email=invitation.email,
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
                invitation_token=token,
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            return _sign_in_to(request, new_user, membership.workspace_id)
    context["form"] = form
    return render(request, "workspaces/invitation.html", context)
