"""Every URL Django resolves, and how to write a path to each for a workspace's objects: the
sweeps that must reach every route (tests/test_pages_tenancy_sweep.py,
tests/test_content_security_policy.py) walk the resolver here, so a route added later is swept
by both. A path parameter they have not met fails them until `route_values()` is taught which
object of a workspace it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from bookings.models import AvailabilityOverride, WorkingHours
from bookings.services import booking_manage_token
from forms.services import submission_token
from tests.full_data import FullWorkspace
from workspaces.onboarding import REVIEW_KEY
from workspaces.services import invitation_token

METHODS = ("get", "post", "put", "patch", "delete")


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


def url_routes() -> list[Route]:
    """Every route, through every include, in the resolver's order; one shadowed by an earlier
    route of the same shape (accounts/login/) is left out: no request reaches it."""
    found, seen = [], set()
    for text, pattern in _walk(get_resolver()):
        route = _route(text, pattern)
        if route.shape not in seen:
            seen.add(route.shape)
            found.append(route)
    return found


# --- What each parameter names, in a workspace ------------------------------------------------


@dataclass(frozen=True)
class Same:
    """A parameter that names no workspace's object (a wizard step, a field's key): the same
    value in both workspaces."""

    value: str


def written(value: object) -> str:
    """The text a value of `route_values()` puts in a path (a Same's own value)."""
    return str(value.value if isinstance(value, Same) else value)


def route_values(w: FullWorkspace, *, type_slug: str, reset_user) -> dict[str, object]:
    """For each parameter (keyed by the route up to it), the value naming w's object: `type_slug`
    is a booking type's, `reset_user` the person a password-reset link is for."""
    ws = w.workspace
    return {
        # Pages
        "contacts/<pk>": w.contact.pk,
        "inbox/<pk>": w.conversation.pk,
        "inbox/<pk>/messages/<message_id>": w.failed.pk,
        "inbox/notices/<pk>": w.notice.pk,
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
        "settings/webhooks/<pk>": w.webhook_endpoint.pk,
        "onboarding/<step>": Same(REVIEW_KEY),
        "settings/team/members/<pk>": ws.memberships.get(user=w.staff).pk,
        "settings/team/invitations/<pk>": w.invitation.pk,
        # Public pages, by slug or by signed token
        "c/<slug>": ws.slug,
        "b/<slug>": ws.slug,
        "b/<slug>/<type_slug>": type_slug,
        "b/<slug>/done/<token>": booking_manage_token(w.booking),
        "booking/<token>": booking_manage_token(w.booking),
        "calendar/<token>": w.feed.token,
        "f/<token>": submission_token(w.pending_submission),
        "invitations/<token>": invitation_token(w.invitation),
        # A person's link, not a workspace's: reset_user's, whichever workspace aims it.
        "accounts/reset/<uidb64>": Same(urlsafe_base64_encode(force_bytes(reset_user.pk))),
        "accounts/reset/<uidb64>/<token>": Same(default_token_generator.make_token(reset_user)),
        "webhooks/twilio/<key>": w.sms_integration.webhook_key,
        # API methods the schema leaves out (PUT beside a documented PATCH)
        "api/v1/workspaces/<pk>": ws.pk,
        "api/v1/messages/conversations/<pk>": w.conversation.pk,
    }
