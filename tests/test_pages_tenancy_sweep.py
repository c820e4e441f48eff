"""Two workspaces cannot see each other through any URL outside the OpenAPI schema: the
server-rendered pages, the public pages, the webhooks, and the API's routes or methods the
schema does not describe (tests/test_tenancy_sweep.py sweeps those it does).

The sweep walks Django's URL resolver, through every include, so a URL added later is swept
too: a path parameter it has not met fails the test until `route_values()` (tests/routes.py) is
taught which object of a workspace it names. The admin is left out: it is the support staff's
(tests/test_admin_support.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from bookings import setup_services
from careops.tenancy import view_area
from tests.full_data import FullWorkspace, full_workspace
from tests.routes import Route, Same, route_values, url_routes, written
from workspaces.models import Access, Area

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"

# Reachable without signing in, on purpose. Each is guarded otherwise: a signed token in its
# URL (the client's links, the calendar feed, the invitation, the password reset), a
# workspace's public slug (the booking page, the contact form), a provider's signature or
# secret (webhooks), or there is nothing to guard (health checks, signing in, the API docs).
PUBLIC = {
    "health",
    "health/ready",
    "accounts/login/",
    "accounts/logout/",
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/<uidb64>/<token>/",
    "accounts/reset/done/",
    "signup/",
    "invitations/<token>/",
    "c/<slug>/",  # the contact form
    "b/<slug>/",  # the booking page
    "b/<slug>/<type_slug>/",
    "b/<slug>/done/<token>/",
    "booking/<token>/",  # the client's link to cancel or reschedule
    "booking/<token>/booking.ics",
    "calendar/<token>.ics",
    "f/<token>/",  # the intake form's link
    "f/<token>/done/",
    "webhooks/twilio/<key>/sms",
    "webhooks/twilio/<key>/status",
    "api/v1/schema/",
    "api/v1/docs/",
    "api/v1/redoc/",
}
PUBLIC_PREFIXES = ("webhooks/anymail/",)  # anymail's views: basic auth and the ESP's signature


def is_public(shape: str) -> bool:
    return shape in PUBLIC or shape.startswith(PUBLIC_PREFIXES)


# Owner-only operations whose rule is checked inside the view rather than declared with
# `owner_only` (which the sweep reads): (route, method).
OWNER_ONLY_INLINE = {("inventory/<pk>/correction/", "post")}


# --- The routes -------------------------------------------------------------------------------


def owner_only(route: Route, method: str) -> bool:
    """What the view declares: a page's `owner_only`, an API view's `owner_actions` (the
    action's name, the method's, or "*"); else a rule checked inside the view."""
    if getattr(route.view_class, "owner_only", False):
        return True
    declared = getattr(route.view_class, "owner_actions", ())
    action = getattr(route.callback, "actions", {}).get(method, method)
    return "*" in declared or action in declared or (route.shape, method) in OWNER_ONLY_INLINE


def _schema_operations() -> set[tuple[object, str]]:
    """(view, method) of every operation the OpenAPI schema describes."""

    def unnamed(path: str) -> str:  # the schema renames {pk} to {id}
        return re.sub(r"\{\w+\}", "{}", path)

    generator = SchemaGenerator()
    documented = {
        (unnamed(path), method)
        for path, item in generator.get_schema(request=None, public=True)["paths"].items()
        for method in item
    }
    return {
        (callback, method.lower())
        for path, _regex, method, callback in generator.endpoints
        if (unnamed(path), method.lower()) in documented
    }


@functools.cache
def routes() -> list[tuple[Route, tuple[str, ...]]]:
    """Every route but the admin's, with the methods the API sweep does not already cover."""
    in_schema = _schema_operations()
    found = []
    for route in url_routes():
        if route.shape.startswith("admin/"):
            continue
        methods = tuple(m for m in route.methods() if (route.callback, m) not in in_schema)
        if methods:
            found.append((route, methods))
    return found


# --- The two workspaces -----------------------------------------------------------------------


def distinctive(w: FullWorkspace) -> list[str]:
    """What only this workspace has: names and addresses (the contacts' names are the same in
    both workspaces: their addresses tell them apart), and its secrets."""
    return [
        w.workspace.name,
        *(user.name for user in w.members),
        *(user.email for user in w.members),
        w.invitation.email,
        *(contact.email for contact in w.contacts),
        *(item.sku for item in w.items),
        w.email_integration.from_address,
        *w.secrets.values(),
    ]


@dataclass
class Two:
    a: FullWorkspace
    b: FullWorkspace
    of_a: dict[str, object]
    of_b: dict[str, object]

    def _named(self, route: Route, param: str, *, of_b: bool) -> object:
        key = route.key(param)
        assert key in self.of_a, f"teach route_values() what {key} names (in {route.shape})"
        return (self.of_b if of_b else self.of_a)[key]

    def value(self, route: Route, param: str, *, of_b: bool) -> str:
        return written(self._named(route, param, of_b=of_b))

    def names_an_object(self, route: Route, param: str) -> bool:
        return not isinstance(self._named(route, param, of_b=False), Same)

    def leaks(self, body: str) -> list[str]:
        return [text for text in distinctive(self.b) if text and text in body]


@pytest.fixture(scope="module")
def two(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Two]:
    """Both workspaces, made once for the module (in a transaction rolled back at its end);
    each test runs in a savepoint inside it, so what one test changes the next does not see."""
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), transaction.atomic():
        a = full_workspace(name="Alpha Clinic", slug="alpha-clinic")
        b = full_workspace(name="Bravo Salon", slug="bravo-salon")
        # Both have services named alike, so slugged alike: one each that the other lacks.
        a_only, b_only = (
            setup_services.booking_type_save(workspace=w.workspace, name=name, duration_minutes=30)
            for w, name in ((a, "Alpha taping"), (b, "Bravo colour"))
        )
        yield Two(
            a,
            b,
            route_values(a, type_slug=a_only.slug, reset_user=a.owner),
            route_values(b, type_slug=b_only.slug, reset_user=a.owner),
        )
        transaction.set_rollback(True)


def variants(two: Two, route: Route) -> Iterator[tuple[str, str]]:
    """Paths to a route aiming at B: every object parameter B's, then each one in turn B's
    with the others A's (B's message in A's conversation). Public routes get only the mixed
    ones: B's own token or slug is B's public page, which anyone holding it may see."""
    aimed = [p for p in route.params if two.names_an_object(route, p)]
    if not aimed:
        return
    chosen = [] if is_public(route.shape) else [set(aimed)]
    if len(aimed) > 1:
        chosen += [{p} for p in aimed]
    for of_b in chosen:
        values = {p: two.value(route, p, of_b=p in of_b) for p in route.params}
        if all(values[p] == two.value(route, p, of_b=False) for p in of_b):
            continue  # B's value is A's too: this names nothing of B
        yield route.path(values), ",".join(sorted(of_b))


def own_path(two: Two, route: Route) -> str:
    return route.path({p: two.value(route, p, of_b=False) for p in route.params})


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


class Caller:
    """One visitor: signed in to the pages by session and to the API by token (or neither)."""

    def __init__(self, user=None):
        self.page = Client()
        self.api = APIClient()
        if user is not None:
            self.page.force_login(user)
            token = RefreshToken.for_user(user).access_token
            self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def __call__(self, method: str, path: str):
        if path.startswith("/api/"):
            return self.api.generic(method.upper(), path, "{}", content_type="application/json")
        if method == "post":
            return self.page.post(path, {})
        return self.page.generic(method.upper(), path)


# --- The sweeps -------------------------------------------------------------------------------


def test_another_workspaces_objects_are_not_found_on_every_route(two):
    call = Caller(two.a.owner)
    swept, problems = 0, []
    for route, methods in routes():
        for path, aimed_at in variants(two, route):
            for method in methods:
                response = call(method, path)
                if response.status_code == 405:
                    continue  # the view takes no such method
                swept += 1
                leaked = two.leaks(body_of(response))
                if response.status_code != 404 or leaked:
                    problems.append(
                        f"{method.upper()} {route.shape} (B's {aimed_at}): "
                        f"{response.status_code} {leaked or ''}"
                    )
    assert not problems, "\n".join(problems)
    assert swept >= 60, swept


def test_no_route_shows_another_workspaces_data(two):
    """Lists, forms and pages that name no object, signed in to A: nothing of B on them."""
    call = Caller(two.a.owner)
    swept, problems = 0, []
    for route, methods in routes():
        if is_public(route.shape) or any(two.names_an_object(route, p) for p in route.params):
            continue  # public pages are B's to show; objects: the sweep above
        for method in methods:
            response = call(method, own_path(two, route))
            if response.status_code == 405:
                continue
            swept += 1
            assert response.status_code < 500, f"{method.upper()} {route.shape}"
            if leaked := two.leaks(body_of(response)):
                problems.append(f"{method.upper()} {route.shape}: {leaked}")
    assert not problems, "\n".join(problems)
    assert swept >= 40, swept


def test_anonymous_visitors_sign_in_first_except_on_public_routes(two):
    stale = PUBLIC - {route.shape for route, _ in routes()}
    assert not stale, f"no such route any more: take it off PUBLIC: {stale}"
    call = Caller()
    swept = 0
    for route, methods in routes():
        path = own_path(two, route)
        for method in methods:
            response = call(method, path)
            where = f"{method.upper()} {route.shape}: {response.status_code}"
            assert response.status_code < 500, where
            if response.status_code == 405:
                continue
            swept += 1
            if is_public(route.shape):
                assert response.status_code != 401, where
            elif route.shape.startswith("api/"):
                assert response.status_code == 401, where
                assert response.json()["code"] == "not_authenticated", where
            else:
                assert response.status_code == 302, where
                assert response["Location"].startswith(f"{LOGIN}?next="), where
    assert swept >= 100, swept


def test_staff_are_refused_owner_only_pages(two):
    call = Caller(two.a.staff)
    swept = 0
    for route, methods in routes():
        for method in methods:
            if not owner_only(route, method):
                continue
            response = call(method, own_path(two, route))
            if response.status_code == 405:
                continue
            assert response.status_code == 403, f"{method.upper()} {route.shape}"
            assert not two.leaks(body_of(response))
            swept += 1
    assert swept >= 30, swept


def test_every_owner_only_route_answers_its_owner(two):
    """The other side of the staff sweep: the owner is not refused them (a 403 for everyone
    would pass it)."""
    call = Caller(two.a.owner)
    for route, methods in routes():
        for method in methods:
            if owner_only(route, method):
                response = call(method, own_path(two, route))
                assert response.status_code != 403, f"{method.upper()} {route.shape}"


def test_switching_to_another_workspace_is_not_found(two):
    call = Caller(two.a.owner)

    response = call.page.post("/workspaces/switch/", {"workspace_id": two.b.workspace.pk})

    assert response.status_code == 404
    assert not two.leaks(body_of(response))


def test_every_route_is_resolved_back_to_its_view(two):
    """The sweep's paths reach the views they were made from (a wrong template would sweep a
    404 from nowhere)."""
    for route, _methods in routes():
        match = resolve(own_path(two, route))
        assert match.func is route.callback, route.shape


# --- Areas: what an owner opens to each staff member ------------------------------------------


def area_routes(two: Two) -> Iterator[tuple[Route, str, str]]:
    """(route, method, area) of every signed-in route that belongs to an area and that staff
    may reach at all (not owner-only)."""
    for route, methods in routes():
        area = view_area(route.view_class) if route.view_class is not None else None
        if area is None or is_public(route.shape):
            continue
        for method in methods:
            if not owner_only(route, method):
                yield route, method, area


def set_access(two: Two, levels: dict[str, str]) -> None:
    membership = two.a.workspace.memberships.get(user=two.a.staff)
    membership.set_area_access(levels)
    membership.save()


@pytest.mark.parametrize("closed", Area.values)
def test_staff_without_an_area_are_refused_its_pages_and_only_its(two, closed):
    set_access(two, dict.fromkeys(Area.values, Access.ACT) | {closed: Access.NONE})
    call = Caller(two.a.staff)
    refused = 0
    for route, method, area in area_routes(two):
        response = call(method, own_path(two, route))
        where = f"{method.upper()} {route.shape}: {response.status_code}"
        if response.status_code == 405:
            continue
        if area == closed:
            assert response.status_code == 403, where
            assert not two.leaks(body_of(response))
            refused += 1
        else:
            assert response.status_code != 403, where
    assert refused >= 4, refused


def test_staff_who_may_only_view_are_refused_every_change(two):
    set_access(two, dict.fromkeys(Area.values, Access.VIEW))
    call = Caller(two.a.staff)
    viewed = changes = 0
    for route, method, _area in area_routes(two):
        response = call(method, own_path(two, route))
        where = f"{method.upper()} {route.shape}: {response.status_code}"
        if response.status_code == 405:
            continue
        if method == "get":
            assert response.status_code != 403, where
            viewed += 1
        else:
            assert response.status_code == 403, where
            changes += 1
    assert viewed >= 15, viewed
    assert changes >= 15, changes


def test_the_navigation_shows_only_the_areas_open_to_staff(two):
    set_access(
        two,
        {
            Area.INBOX: Access.NONE,
            Area.BOOKINGS: Access.VIEW,
            Area.FORMS: Access.NONE,
            Area.INVENTORY: Access.ACT,
        },
    )
    nav = body_of(Caller(two.a.staff)("get", "/contacts/")).split('aria-label="Main"')[1]
    nav = nav.split("</nav>")[0]

    assert 'href="/inbox/"' not in nav
    assert 'href="/forms/"' not in nav
    assert 'href="/bookings/"' in nav
    assert 'href="/inventory/"' in nav
