"""The Content-Security-Policy and the markup it relies on: every page answers with a policy that
runs scripts from our own files only, and no page carries what that policy would refuse (an
inline <script>, an on*= handler, a style attribute, an hx-on, a <style> without the request's
nonce), so nothing on a page depends on what the browser would block. A client's hostile text,
in an email or a form answer, reaches the staff's pages as text.

The sweep walks Django's URL resolver (tests/routes.py), so a page added later is swept too: a
path parameter it has not met fails the test until `route_values()` is taught which object it
names.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from anymail.inbound import AnymailInboundMessage
from django.apps import apps
from django.test import Client
from django.urls import reverse

from bookings.services import booking_manage_token
from careops.support import VIEW_APPS
from forms.services import submission_token
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from messaging.inbound import email_receive
from tests.full_data import FullWorkspace, full_workspace
from tests.routes import route_values, url_routes, written
from workspaces.models import User

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">a</a>'
)


# --- Reading a page ---------------------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header, directive by directive."""
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def nonce_of(response) -> str | None:
    for source in policy(response).get("style-src", []):
        if source.startswith("'nonce-"):
            return source.removeprefix("'nonce-").removesuffix("'")
    return None


class _Refused(HTMLParser):
    """What a strict policy would refuse in a page: each as "what: where"."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce, self.problems = nonce, []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        where = f"<{tag} {' '.join(name for name, _ in attrs)}>"
        if tag == "script":
            self._in_script = "src" not in attributes
            if self._in_script:
                self.problems.append(f"inline script: {where}")
        if tag == "style" and (self.nonce is None or attributes.get("nonce") != self.nonce):
            self.problems.append(f"<style> without the request's nonce: {where}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}=: {where}")
            elif name == "style":
                self.problems.append(f"style attribute: {where}")
            elif name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"{name} (run through eval): {where}")
            elif (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}: {where}")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script code: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def refused_markup(response) -> list[str]:
    parser = _Refused(nonce_of(response))
    parser.feed(response.content.decode())
    parser.close()
    return parser.problems


def is_html(response) -> bool:
    return response.status_code == 200 and response["Content-Type"].startswith("text/html")


# --- The policy -------------------------------------------------------------------------------


def assert_strict(response) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]


@pytest.fixture
def business(settings, tmp_path) -> FullWorkspace:
    settings.MEDIA_ROOT = tmp_path
    return full_workspace(name="Alpha Clinic", slug="alpha-clinic")


def test_the_dashboard_login_booking_page_and_intake_form_send_the_strict_policy(client, business):
    anonymous = Client()
    client.force_login(business.owner)
    pages = {
        "dashboard": client.get(reverse("dashboard")),
        "login": anonymous.get(reverse("login")),
        "booking page": anonymous.get(reverse("booking-page", args=[business.workspace.slug])),
        "intake form": anonymous.get(
            reverse("form-public", args=[submission_token(business.pending_submission)])
        ),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert_strict(response)
        assert policy(response)["frame-ancestors"] == ["'none'"], name
        assert refused_markup(response) == [], name


def test_the_calendar_places_bookings_with_a_nonced_style_and_no_style_attribute(client, business):
    client.force_login(business.owner)

    response = client.get(reverse("bookings-calendar"), {"view": "week"})

    nonce = nonce_of(response)
    assert nonce and f'<style nonce="{nonce}">' in response.content.decode()
    assert refused_markup(response) == []
    # A page that needs no nonce is not given one (it would make the header vary for nothing).
    assert nonce_of(client.get(reverse("dashboard"))) is None


def test_the_error_pages_carry_the_policy_and_nothing_it_would_refuse(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert_strict(response)
    assert refused_markup(response) == []


def test_only_the_contact_form_may_be_framed_by_another_site(client, business):
    response = Client().get(reverse("contact-form", args=[business.workspace.slug]))

    assert_strict(response)
    assert policy(response)["frame-ancestors"] == ["*"]
    assert "X-Frame-Options" not in response


def test_the_api_docs_load_their_scripts_from_files_only(client):
    swagger = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/", {"script": ""})
    redoc = client.get("/api/v1/redoc/")

    for response in (swagger, redoc):
        assert policy(response)["script-src"] == ["'self'"]
        assert not [p for p in refused_markup(response) if not p.startswith("<style>")]
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "fonts.googleapis.com" not in redoc.content.decode()


# --- The sweep --------------------------------------------------------------------------------

# Not pages: the API answers JSON (its docs are tested above), webhooks answer providers.
SKIPPED_PREFIXES = ("admin/", "api/", "webhooks/", "health")


def page_paths(w: FullWorkspace) -> list[str]:
    """Every route's path for w, with a few query strings that show another state."""
    values = route_values(w, type_slug=w.booking_types[0].slug, reset_user=w.owner)
    paths = []
    for route in url_routes():
        if route.shape.startswith(SKIPPED_PREFIXES) or route.shape == "accounts/logout/":
            continue
        named = {}
        for param in route.params:
            key = route.key(param)
            assert key in values, f"teach the sweep which object {key} names (route_values())"
            named[param] = written(values[key])
        paths.append(route.path(named))
    return [
        *dict.fromkeys(paths),
        "/bookings/calendar/?view=week",
        f"/b/{w.workspace.slug}/{w.booking_types[0].slug}/?tz=Pacific/Auckland",
        f"/booking/{booking_manage_token(w.booking)}/?reschedule=1",
    ]


def test_no_page_carries_markup_the_policy_would_refuse(client, business):
    # A client's hostile text where staff read it: an email's body and a form answer.
    business.inbound.body = HOSTILE
    business.inbound.save(update_fields=["body"])
    business.submission.answers = {**business.submission.answers, "full_name": HOSTILE}
    business.submission.save(update_fields=["answers"])
    client.force_login(business.owner)
    anonymous = Client()

    swept, problems = 0, {}
    for path in page_paths(business):
        for who, visitor in (("owner", client), ("anonymous", anonymous)):
            response = visitor.get(path)
            if not is_html(response):
                continue  # a redirect to sign in, a 405, a file, a feed
            swept += 1
            assert_strict(response)
            if found := refused_markup(response):
                problems[f"{who} {path}"] = found

    assert problems == {}
    assert swept >= 60  # the sweep reached the pages (not a run of redirects)


def test_no_support_page_carries_markup_the_policy_would_refuse(client, business):
    client.force_login(User.objects.create_superuser("root@careops.test", "pw-root-12345"))
    paths = [reverse("admin:index")]
    for model in (m for label in VIEW_APPS for m in apps.get_app_config(label).get_models()):
        meta = model._meta
        paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            paths.append(
                reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            )

    problems = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        if found := refused_markup(response):
            problems[path] = found

    assert problems == {}


# --- A client's hostile text, where staff read it ---------------------------------------------


def test_an_html_email_with_script_reaches_the_inbox_as_harmless_text(client, owner, workspace_a):
    message = AnymailInboundMessage.construct(
        from_email="Sam Client <sam@example.org>",
        to=f"{workspace_a.slug}@inbound.careops.local",
        subject="<img src=x onerror=alert(2)>",
        text=None,
        html=f"<html><head><style>p {{ color: red }}</style></head><body><p>Hi</p>{HOSTILE}</body>",
        headers={"Message-ID": "<hostile-1@example.org>"},
    )

    stored = email_receive(message=message, provider="postmark")
    client.force_login(owner)
    page = client.get(reverse("inbox-conversation", args=[stored.conversation_id]))

    # The HTML part became its text: the script's code and the style rules are gone with the
    # tags, the link's words stay.
    assert stored.body == "Hi\na"
    assert refused_markup(page) == []
    html = page.content.decode()
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # the subject, shown as the text it is


def test_a_form_answer_with_markup_is_shown_to_staff_as_text(client, owner, workspace_a):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")
    submission = FormSubmissionFactory(workspace=workspace_a, template=template)
    answers = {
        "full_name": HOSTILE,
        "history": f"line one\n{HOSTILE}",
        "visit": "No",
        "consent": "on",
        "signature": "Ann Lee",
    }

    posted = Client().post(reverse("form-public", args=[submission_token(submission)]), answers)
    client.force_login(owner)
    page = client.get(reverse("form-submission-detail", args=[submission.pk]))

    assert posted.status_code == 302
    assert page.status_code == 200
    assert refused_markup(page) == []
    html = page.content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<script>" not in html
