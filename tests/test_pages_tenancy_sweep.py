"""Two workspaces cannot see each other through any URL outside the OpenAPI schema: the
server-rendered pages, the public pages, the webhooks, and the API's routes or methods the
schema does not describe (tests/test_tenancy_sweep.py sweeps those it does).

The sweep walks Django's URL resolver, through every include, so a URL added later is swept
too: a path parameter it has not met fails the test until `objects()` is taught which object
of a workspace it names. The admin is left out: it is the support staff's
(tests/test_admin_support.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from bookings import setup_services
from bookings.models import AvailabilityOverride, WorkingHours
from bookings.services import booking_manage_token
from forms.services import submission_token
from tests.full_data import FullWorkspace, full_workspace
from workspaces.onboarding import REVIEW_KEY
from workspaces.services import invitation_token

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
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


@dataclass(frozen=True)
class Route:
    shape: str  # "inbox/<pk>/messages/<message_id>/retry/": converters and regexes dropped
    template: str  # the same with "{name}" placeholders, filled to make a path
    params: tuple[str, ...]
    callback: object
    converters: dict  # a path() route's, by parameter: they write the values into the path

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)

    def methods(self) -> tuple[str, ...]:
        """The methods the view accepts; every method for a function view (a 405 skips one)."""
        actions = getattr(self.callback, "actions", None)
        if actions:
            return tuple(m for m in METHODS if m in actions)
        if self.view_class is not None:
            return tuple(m for m in METHODS if hasattr(self.view_class, m))
        return METHODS

    def owner_only(self, method: str) -> bool:
        """What the view declares: a page's `owner_only`, an API view's `owner_actions` (the
        action's name, the method's, or "*"); else a rule checked inside the view."""
        if getattr(self.view_class, "owner_only", False):
            return True
        declared = getattr(self.view_class, "owner_actions", ())
        action = getattr(self.callback, "actions", {}).get(method, method)
        return "*" in declared or action in declared or (self.shape, method) in OWNER_ONLY_INLINE

    def key(self, param: str) -> str:
        """What the parameter names: the route up to and including it."""
        marker = f"<{param}>"
        return self.shape[: self.shape.index(marker) + len(marker)]

    def path(self, values: dict[str, str]) -> str:
        written = {
            name: self.converters[name].to_url(value) if name in self.converters else value
            for name, value in values.items()
        }
        return "/" + self.template.format(**written)


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")


def _route(text: str, pattern: URLPattern) -> Route:
    text = re.sub(r"\((?!\?P<)[^()]*\)\?", "", text)  # anymail's optional "(_mime)?"
    text = text.replace("^", "").replace("$", "")
    params = tuple(a or b for a, b in _PARAM.findall(text))
    shape = _PARAM.sub(lambda m: f"<{m.group(1) or m.group(2)}>", text)
    template = _PARAM.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", text)
    converters = getattr(pattern.pattern, "converters", {})
    return Route(shape, template, params, pattern.callback, converters)


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


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
    found, seen = [], set()
    for text, pattern in _walk(get_resolver()):
        route = _route(text, pattern)
        if text.startswith("admin/") or route.shape in seen:
            continue  # a route shadowed by an earlier one is never reached (accounts/login/)
        seen.add(route.shape)
        methods = tuple(m for m in route.methods() if (pattern.callback, m) not in in_schema)
        if methods:
            found.append((route, methods))
    return found


# --- What each parameter names, in a workspace ------------------------------------------------


@dataclass(frozen=True)
class Same:
    """A parameter that names no workspace's object (a wizard step, a field's key): the same
    value in both workspaces."""

    value: str


def objects(w: FullWorkspace, *, type_slug: str, reset_user) -> dict[str, object]:
    """For each parameter (keyed by the route up to it), the value naming w's object."""
    ws = w.workspace
    return {
        # Pages
        "contacts/<pk>": w.contact.pk,
        "inbox/<pk>": w.conversation.pk,
        "inbox/<pk>/messages/<message_id>": w.failed.pk,
        "settings/integrations/<pk>": w.email_integration.pk,
        "settings/templates/<pk>": w.message_template.pk,
        "bookings/<pk>": w.booking.pk,
        "settings/booking-types/<pk>": w.booking_types[0].pk,
        "settings/availability/hours/<pk>": WorkingHours.objects.filter(workspace=ws).first().pk,
        "settings/availability/overrides/<pk>": AvailabilityOverride.objects.get(workspace=ws).pk,
        "forms/templates/<pk>": w.form_template.pk,
        "forms/templates/<pk>/fields/<key>": Same(w.form_template.fields[0]["key"]),
        "forms/submissions/<pk>": w.submission.pk,
        "forms/submissions/<pk>/files/<upload_pk>": w.upload.pk,
        "inventory/<pk>": w.items[0].pk,
        "settings/automation/<pk>": w.rules["welcome"].pk,
        "alerts/<pk>": w.alerts[0].pk,
        "onboarding/<step>": Same(REVIEW_KEY),
        # Public pages, by slug or by signed token
        "c/<slug>": ws.slug,
        "b/<slug>": ws.slug,
        "b/<slug>/<type_slug>": type_slug,
        "b/<slug>/done/<token>": booking_manage_token(w.booking),
        "booking/<token>": booking_manage_token(w.booking),
        "calendar/<token>": w.feed.token,
        "f/<token>": submission_token(w.pending_submission),
        "invitations/<token>": invitation_token(w.invitation),
        # A person's link, not a workspace's: the same (A's owner's) aimed from either side.
        "accounts/reset/<uidb64>": Same(urlsafe_base64_encode(force_bytes(reset_user.pk))),
        "accounts/reset/<uidb64>/<token>": Same(default_token_generator.make_token(reset_user)),
        "webhooks/twilio/<key>": w.sms_integration.webhook_key,
        # API methods the schema leaves out (PUT beside a documented PATCH)
        "api/v1/workspaces/<pk>": ws.pk,
        "api/v1/messages/conversations/<pk>": w.conversation.pk,
    }


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
        assert key in self.of_a, f"teach objects() what {key} names (in {route.shape})"
        return (self.of_b if of_b else self.of_a)[key]

    def value(self, route: Route, param: str, *, of_b: bool) -> str:
        value = self._named(route, param, of_b=of_b)
        return str(value.value if isinstance(value, Same) else value)

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
            objects(a, type_slug=a_only.slug, reset_user=a.owner),
            objects(b, type_slug=b_only.slug, reset_user=a.owner),
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
            if not route.owner_only(method):
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
            if route.owner_only(method):
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
