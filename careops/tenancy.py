"""The workspace context: which workspace a request acts on, and what the caller may do there.

How the workspace is chosen, in order:
1. the URL, for routes under /workspaces/{workspace_pk}/ (and /workspaces/{id} itself);
2. the `X-Workspace-ID` header (API) or the workspace switcher's choice in the session (pages);
3. the caller's only membership, when there is exactly one (pages: the oldest membership).

The caller must be a member of that workspace; otherwise it is "not found", whether the
workspace exists or not. Role rules (owner vs staff) and area rules are checked here and
nowhere else: views name the actions that need an owner, and this module enforces it.

Areas: each staff member has, per area (Inbox, Bookings, Forms, Inventory), no access, view
only, or view and act (workspaces.models.Access); owners act everywhere. A view belongs to the
area of the app that defines it (`AREA_OF_APP`: messaging's views are the Inbox), unless it
declares `area` itself (None: no area, e.g. a page that composes several). Without access to
its area a view answers 403; with view only, every method but GET, HEAD and OPTIONS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.permissions import SAFE_METHODS, BasePermission

from careops import rls
from careops.errors import Forbidden, NotFound, WorkspaceRequired
from workspaces.models import Access, Area, Membership, WorkspaceDeactivated

if TYPE_CHECKING:
    from workspaces.models import Workspace

WORKSPACE_HEADER = "X-Workspace-ID"
SESSION_KEY = "careops_workspace_id"
OWNER_ONLY_MESSAGE = "Only an owner of this workspace may do this."


def access_workspace(user, workspace_id: Any) -> Membership:
    """The user's membership of that workspace, or NotFound: never confirms that it exists."""
    try:
        workspace_pk = int(workspace_id)
    except (TypeError, ValueError):
        raise NotFound("Workspace not found.") from None
    membership = (
        Membership.objects.select_related("workspace")
        .filter(user=user, workspace_id=workspace_pk)
        .first()
    )
    if membership is None:
        raise NotFound("Workspace not found.")
    return membership


# Where careops.auth leaves the membership it read with the token's user: (user pk, workspace
# id, the membership or None when the user is no member of it).
AUTHENTICATED_MEMBERSHIP = "_careops_authenticated_membership"


def remember_authenticated_membership(
    request: Any, user: Any, workspace_id: int, membership: Membership | None
) -> None:
    """Keep the membership the API authentication read with the user, the same query
    access_workspace makes: the request's workspace is then resolved without asking again."""
    request = getattr(request, "_request", request)
    setattr(request, AUTHENTICATED_MEMBERSHIP, (user.pk, workspace_id, membership))


USER_MEMBERSHIPS = "_careops_user_memberships"


def remember_user_memberships(request: Any, user: Any, memberships: list[Membership]) -> None:
    """Keep the caller's first two memberships, read with the user when the request names no
    workspace: the only one is then the request's workspace without asking again."""
    request = getattr(request, "_request", request)
    setattr(request, USER_MEMBERSHIPS, (user.pk, memberships))


def _user_memberships(request: HttpRequest, user: Any) -> list[Membership]:
    """The user's first two memberships (by id), as remembered or read now."""
    remembered = getattr(request, USER_MEMBERSHIPS, None)
    if remembered is not None and remembered[0] == user.pk:
        return remembered[1]
    return list(Membership.objects.select_related("workspace").filter(user=user)[:2])


def _workspace_membership(request: HttpRequest, user: Any, workspace_id: Any) -> Membership:
    remembered = getattr(request, AUTHENTICATED_MEMBERSHIP, None)
    if remembered is not None:
        user_pk, remembered_workspace_id, membership = remembered
        try:
            same = user_pk == user.pk and int(workspace_id) == remembered_workspace_id
        except (TypeError, ValueError):
            same = False
        if same:
            if membership is None:
                raise NotFound("Workspace not found.")
            return membership
    return access_workspace(user, workspace_id)


def _bind(request: HttpRequest, membership: Membership) -> Membership:
    if membership.workspace.is_deactivated:
        raise WorkspaceDeactivated(membership.workspace)
    request.membership = membership
    request.workspace = membership.workspace
    rls.narrow(membership.workspace_id)
    structlog.contextvars.bind_contextvars(
        workspace_id=membership.workspace_id, user_id=membership.user_id
    )
    return membership


def request_membership(
    request: HttpRequest, *, workspace_id: Any = None, from_session: bool = False
) -> Membership:
    """Resolve and remember the caller's membership for this request (see the module doc)."""
    cached = getattr(request, "membership", None)
    if cached is not None and (
        workspace_id is None or str(cached.workspace_id) == str(workspace_id)
    ):
        return cached
    user = request.user
    if workspace_id is None:
        workspace_id = request.headers.get(WORKSPACE_HEADER)
    if workspace_id is None and from_session:
        workspace_id = request.session.get(SESSION_KEY)
    if workspace_id is not None:
        return _bind(request, _workspace_membership(request, user, workspace_id))
    memberships = _user_memberships(request, user)
    if len(memberships) == 1:
        return _bind(request, memberships[0])
    if not memberships:
        raise NotFound("You do not belong to any workspace yet.")
    raise WorkspaceRequired()


# The area of each app's views, unless a view says otherwise with its own `area`.
AREA_OF_APP = {
    "messaging": Area.INBOX,
    "bookings": Area.BOOKINGS,
    "forms": Area.FORMS,
    "inventory": Area.INVENTORY,
}
_OF_ITS_APP = object()


def view_area(view: Any) -> str | None:
    """The area a view (class or instance) belongs to, or None."""
    view_class = view if isinstance(view, type) else type(view)
    declared = getattr(view_class, "area", _OF_ITS_APP)
    if declared is not _OF_ITS_APP:
        return declared
    return AREA_OF_APP.get(view_class.__module__.split(".", 1)[0])


def area_denial(membership: Membership, area: str | None, method: str) -> str | None:
    """Why the member may not make this request in the area, or None when they may."""
    if area is None:
        return None
    level = membership.access(area)
    label = Area(area).label
    if level == Access.NONE:
        return f"You have no access to {label} in this workspace; an owner can give it."
    if level == Access.VIEW and method.upper() not in SAFE_METHODS:
        return f"You may view {label} but not make changes there; an owner can allow it."
    return None


def staff_areas(membership: Membership) -> frozenset[str] | None:
    """The areas a staff member may see, to filter what spans areas (alerts); None for an
    owner, who sees every area."""
    return None if membership.is_owner else membership.visible_areas


def requires_owner(view: Any, request: HttpRequest) -> bool:
    owner_actions = getattr(view, "owner_actions", ())
    action = getattr(view, "action", None) or request.method.lower()
    return "*" in owner_actions or action in owner_actions


class WorkspaceAccess(BasePermission):
    """The caller belongs to the request's workspace; owners only for the view's owner_actions.

    Views declare `owner_actions` (viewset action names, HTTP method names, or "*"), and
    `workspace_free_actions` for actions that act on no one workspace (listing your workspaces,
    creating one). The workspace id is read from the URL kwarg `workspace_url_kwarg`
    (default `workspace_pk`) when the route has one.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "action", None) in getattr(view, "workspace_free_actions", ()):
            return True
        kwarg = getattr(view, "workspace_url_kwarg", "workspace_pk")
        membership = request_membership(request, workspace_id=view.kwargs.get(kwarg))
        if requires_owner(view, request) and not membership.is_owner:
            raise Forbidden(OWNER_ONLY_MESSAGE)
        denial = area_denial(membership, view_area(view), request.method)
        if denial is not None:
            raise Forbidden(denial)
        return True


class WorkspaceViewSetMixin:
    """API viewsets acting in the request's workspace: subclasses define `scoped_queryset()`.

    `queryset` names the model (as `Model.objects.none()`) for schema generation, which calls
    get_queryset() with no signed-in user and no workspace.
    """

    permission_classes = [WorkspaceAccess]
    owner_actions: tuple[str, ...] = ()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.scoped_queryset()

    def scoped_queryset(self):
        raise NotImplementedError


# --- Pages ----------------------------------------------------------------------------------


def page_membership(request: HttpRequest) -> Membership | None:
    """The page's workspace: the switcher's choice, else the user's oldest membership."""
    try:
        return request_membership(request, from_session=True)
    except WorkspaceRequired:
        membership = (
            Membership.objects.select_related("workspace")
            .filter(user=request.user)
            .order_by("created_at", "pk")
            .first()
        )
        request.session[SESSION_KEY] = membership.workspace_id
        return _bind(request, membership)
    except NotFound:
        # The session named a workspace the user has since left: forget it and start over.
        if request.session.pop(SESSION_KEY, None) is not None:
            return page_membership(request)
        return None


def workspace_deactivated_page(request: HttpRequest, exc: WorkspaceDeactivated) -> HttpResponse:
    """What members see instead of a deactivated workspace's pages (the switcher still works)."""
    context = {"deactivated_workspace": exc.workspace, "message": exc.message}
    return render(request, "workspaces/deactivated.html", context, status=403)


class WorkspacePageMixin(LoginRequiredMixin):
    """A dashboard page: signed in, in a workspace; `owner_only` pages refuse staff (403)."""

    owner_only = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        try:
            membership = page_membership(request)
        except WorkspaceDeactivated as exc:
            return workspace_deactivated_page(request, exc)
        if membership is None:
            return redirect("workspace-new")
        if self.owner_only and not membership.is_owner:
            raise PermissionDenied(OWNER_ONLY_MESSAGE)
        denial = area_denial(membership, view_area(self), request.method)
        if denial is not None:
            raise PermissionDenied(denial)
        return super().dispatch(request, *args, **kwargs)


def switch_workspace(request: HttpRequest, workspace_id: Any) -> Workspace:
    """Make another of the user's workspaces the one the pages show."""
    try:
        membership = access_workspace(request.user, workspace_id)
    except NotFound:
        raise Http404("Workspace not found.") from None
    request.session[SESSION_KEY] = membership.workspace_id
    return membership.workspace


def workspace_context_processor(request: HttpRequest) -> dict[str, Any]:
    """The current workspace and the switcher's list, for the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "current_membership": membership,
        # The areas the navigation shows: an entry for each the member may open.
        "visible_areas": membership.visible_areas if membership is not None else frozenset(),
        # Each area's level ("none", "view", "act"): pages offer their actions only with "act".
        "area_access": membership.areas if membership is not None else {},
        "current_workspace": getattr(request, "workspace", None),
        "switcher_memberships": rls.AcrossWorkspaces(
            Membership.objects.select_related("workspace")
            .filter(user=user)
            .order_by("workspace__name")
        ),
    }
