"""Hostile or broken requests get a clear 4xx, never a 500: on /api/ in the JSON error shape
(careops/errors.py), on pages an HTML page. Oversized bodies, wrong content types, bytes that
are not UTF-8 (in a body, a query string, a path), NUL and lone surrogate characters, page
sizes and cursors out of range, JSON nested too deep."""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode

import pytest
from django.conf import settings

from bookings.services import booking_manage_token
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.tests.factories import ContactFactory
from forms.services import submission_token
from forms.tests.factories import FormSubmissionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_workspace_a")]

TOO_BIG = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def public(workspace_a):
    """What the public endpoints of workspace A are reached by: its slug, a service, the token
    of a form link waiting for its answers and a booking's link."""
    booking_type = BookingTypeFactory(workspace=workspace_a, slug="massage")
    submission = FormSubmissionFactory(workspace=workspace_a)
    booking = BookingFactory(workspace=workspace_a, booking_type=booking_type)
    return {
        "slug": workspace_a.slug,
        "type": booking_type.slug,
        "token": submission_token(submission),
        "manage": booking_manage_token(booking),
    }


def assert_api_error(response, status: int | tuple[int, ...], code: str | None = None):
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["code"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["code"] == code, body


def assert_html_error(response, status: int | tuple[int, ...]):
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("text/html")


def assert_page_answers(response):
    """A page refused the input or showed it back: anything but a server error."""
    assert response.status_code < 500, response.status_code
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]


# --- The API: the endpoints a body is posted to -----------------------------------------------

# (client fixture, path): a signed-in create, and the two public ones.
POSTS = [
    ("owner_api", "/api/v1/contacts"),
    ("anon_api", "/api/v1/bookings"),  # the public booking
    ("anon_api", "/api/v1/forms/submissions"),  # a client's form, by its link's token
    ("anon_api", "/api/v1/auth/login"),
]


@pytest.fixture(params=POSTS, ids=[path for _, path in POSTS])
def post_to(request, public):
    client_name, path = request.param
    client = request.getfixturevalue(client_name)

    def post(body: bytes | str, content_type: str = "application/json", **extra):
        return client.generic("POST", path, body, content_type=content_type, **extra)

    return post


def test_a_json_body_over_the_size_limit_is_a_413(post_to):
    body = json.dumps({"name": "a" * TOO_BIG})

    response = post_to(body)

    assert_api_error(response, 413, "request_too_large")
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    assert f"larger than {limit:g} MB" in response.json()["message"]


def assert_too_large_or_not_taken(response):
    """413 where the endpoint takes the format (the form submission takes form posts and
    multipart), else 415: refused unread either way."""
    assert_api_error(response, (413, 415))
    if response.status_code == 413:
        assert response.json()["code"] == "request_too_large"


def test_a_form_body_over_the_size_limit_is_a_413(post_to):
    body = "name=" + "a" * TOO_BIG

    assert_too_large_or_not_taken(post_to(body, "application/x-www-form-urlencoded"))


def test_a_multipart_body_over_the_size_limit_is_a_413(post_to):
    boundary = "BoUnDaRy"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="answers"\r\n\r\n'
        f"{'a' * TOO_BIG}\r\n--{boundary}--\r\n"
    )

    response = post_to(body, f"multipart/form-data; boundary={boundary}")

    assert_too_large_or_not_taken(response)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "image/png",
        "",
    ],
)
def test_a_body_in_another_format_is_a_415(post_to, content_type):
    response = post_to("<a>1</a>", content_type)

    # The form submission also takes form posts: there, the answers are just missing.
    assert_api_error(response, (400, 415))


def test_a_multipart_body_without_its_boundary_is_a_4xx(post_to):
    response = post_to("--x\r\n", "multipart/form-data")

    assert_api_error(response, (400, 415))


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\xff\xfe"}',  # not UTF-8
        b"\xef\xbb\xbf" + b'{"name": "A"',  # a byte order mark, then broken
        b'{"name": "\xc3"}',  # a UTF-8 sequence cut short
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"1e999999",
        DEEP.encode(),
        ('{"a":' * 50_000 + "1" + "}" * 50_000).encode(),
    ],
    ids=[
        "latin-1",
        "bom",
        "truncated-utf8",
        "empty",
        "null",
        "list",
        "string",
        "huge-number",
        "deep-list",
        "deep-object",
    ],
)
def test_a_json_body_that_does_not_parse_or_is_no_object_is_a_400(post_to, body):
    assert_api_error(post_to(body), (400, 415))


@pytest.mark.parametrize("text", ["\x00", "\ud800", "a\x00b"], ids=["nul", "surrogate", "mid-nul"])
def test_nul_and_lone_surrogates_in_json_strings_are_a_400(post_to, public, text):
    body = {
        "name": text,
        "email": f"{text}@example.org",
        "notes": text,
        "workspace": public["slug"],
        "booking_type": text,
        "start": text,
        "token": text,
        "password": text,
        "answers": {text: text},
        "custom_fields": {text: text},
        "tags": [text],
    }

    assert_api_error(post_to(json.dumps(body)), 400)


def test_nul_in_a_contacts_custom_field_is_a_400(owner_api):
    body = {"name": "Ada", "email": "ada@example.org", "custom_fields": {"note": "a\u0000b"}}

    response = owner_api.post("/api/v1/contacts", body, format="json")

    assert_api_error(response, 400, "validation_error")


def test_nul_in_a_form_answer_is_a_400(anon_api, public):
    # json.dumps writes the lone surrogate as the escape \ud800 (it is not UTF-8).
    body = {"token": public["token"], "answers": {"full_name": "Ada\u0000", "email": "\ud800"}}

    response = anon_api.generic(
        "POST", "/api/v1/forms/submissions", json.dumps(body), content_type="application/json"
    )

    assert_api_error(response, 400, "validation_error")


def test_a_deep_answers_part_in_a_multipart_submission_is_a_400(anon_api, public):
    response = anon_api.post(
        "/api/v1/forms/submissions", {"token": public["token"], "answers": DEEP}
    )

    assert_api_error(response, 400, "validation_error")


# --- The API: query strings, paths, pagination --------------------------------------------------

LISTS = [
    "/api/v1/contacts",  # keyset pages
    "/api/v1/bookings",
    "/api/v1/messages/conversations",
    "/api/v1/messages/templates",  # numbered pages
    "/api/v1/inventory",
    "/api/v1/forms/submissions",
]


BAD_QUERIES = [
    f"page_size={10**9}",
    f"page_size={10**30}",
    "page_size=-1",
    "page_size=0",
    "page_size=abc",
    "page_size=1e3",
    "page_size=%FF",
    f"page={10**9}",
    "page=-1",
    "page=abc",
    "cursor=" + "A" * 200_000,
    "cursor=" + urlsafe_b64encode(DEEP.encode()).decode(),  # JSON nested too deep
    "cursor=%FF%FE",
    "cursor=%00",
    "cursor=!!!",
    "search=%FF%FE",
    "search=%00",
    "q=%00",
    "ordering=%00",
    "ordering=-nope",
    "status=%00",
    "from=%00&to=%FF",
    "date=99999-99-99",
    "tag=%00",
    "contact=%00",
    "contact=99999999999999999999999",
    "from=0001-01-01&to=9999-12-31",  # no day after the last
    "to=9999-12-31T23:59:59-12:00",
]


@pytest.mark.parametrize("path", LISTS)
def test_bad_query_strings_on_lists_are_a_400_or_ignored(owner_api, path):
    for query in BAD_QUERIES:
        response = owner_api.get(f"{path}?{query}")

        if response.status_code == 200:
            assert "results" in response.json(), query  # ignored, as unknown parameters are
        else:
            assert_api_error(response, (400, 404))


def test_a_huge_page_size_is_capped(owner_api, workspace_a):
    ContactFactory.create_batch(3, workspace=workspace_a)

    response = owner_api.get(f"/api/v1/contacts?page_size={10**9}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/contacts/%FF",
        "/api/v1/contacts/99999999999999999999999",
        "/api/v1/workspaces/%FF%FE",
        "/api/v1/workspaces/99999999999999999999999",
        "/api/v1/workspaces/-1",
        "/api/v1/%C3%28",
    ],
)
def test_bad_paths_are_a_json_404(owner_api, path):
    assert_api_error(owner_api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        "workspace=%FF&booking_type=%00&from=%00&to=%FF",
        "workspace={slug}&booking_type={type}&from=2026-01-01&to=99999-01-01",
        "workspace={slug}&booking_type={type}&from=2026-01-01&to=2026-01-02&tz=%00",
        "workspace={slug}&booking_type={type}&from=2026-01-01&to=2026-01-02&tz=%FF/..%2F..",
        "workspace={slug}&booking_type={type}&from=2026-01-01&to=2026-01-02&staff=1e99",
        "workspace={slug}&booking_type={type}&from=0001-01-01&to=9999-12-31",
    ],
)
def test_bad_query_strings_on_the_public_slots_are_a_400(anon_api, public, query):
    response = anon_api.get("/api/v1/bookings/slots?" + query.format(**public))

    assert_api_error(response, 400)


def test_the_public_booking_types_with_a_bad_slug_are_a_4xx(anon_api):
    response = anon_api.get("/api/v1/bookings/types?workspace=%00%FF")

    assert_api_error(response, (400, 404))


# --- Pages: the public forms -------------------------------------------------------------------


@pytest.fixture(params=["contact", "booking", "intake"])
def public_form(request, public):
    return {
        "contact": f"/c/{public['slug']}/",
        "booking": f"/b/{public['slug']}/{public['type']}/",
        "intake": f"/f/{public['token']}/",
    }[request.param]


def test_a_form_post_over_the_size_limit_is_an_html_413(client, public_form):
    response = client.generic(
        "POST",
        public_form,
        "message=" + "a" * TOO_BIG,
        content_type="application/x-www-form-urlencoded",
    )

    assert_html_error(response, 413)
    assert b"Too much to send at once" in response.content


def test_a_form_post_with_too_many_fields_is_an_html_400(client, public_form):
    fields = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = client.generic(
        "POST", public_form, fields, content_type="application/x-www-form-urlencoded"
    )

    assert_html_error(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        b"name=\xff\xfe&email=a%FF@example.org&message=\xc3",
        b"name=%00&email=%00&message=%00&phone=%00&start=%00&tz=%00&full_name=%00",
        b"name=%ED%A0%80&message=%ED%A0%80",  # a lone surrogate, encoded
        b"%FF=%FF&&&==&",
    ],
    ids=["latin-1", "nul", "surrogate", "garbled"],
)
def test_a_form_post_of_broken_text_is_answered(client, public_form, body):
    response = client.generic(
        "POST", public_form, body, content_type="application/x-www-form-urlencoded"
    )

    assert_page_answers(response)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data"])
def test_a_form_post_in_another_format_is_answered(client, public_form, content_type):
    response = client.generic("POST", public_form, '{"name": "A"}', content_type=content_type)

    assert_page_answers(response)


@pytest.mark.parametrize(
    "query",
    ["tz=%00", "tz=%FF", "week=%00", "week=99999-01-01", "start=%00", "start=%FF", "sent=%FF"],
)
def test_bad_query_strings_on_public_pages_are_answered(client, public_form, query):
    assert_page_answers(client.get(f"{public_form}?{query}"))


# Moments at the ends of the calendar: the time arithmetic after them must not overflow.
EDGE_MOMENTS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31",
]


@pytest.mark.parametrize("moment", EDGE_MOMENTS)
def test_moments_at_the_ends_of_the_calendar_are_answered_on_the_booking_pages(
    client, anon_api, public, moment
):
    booking_page = f"/b/{public['slug']}/{public['type']}/"
    manage_page = f"/booking/{public['manage']}/"
    slots = (
        f"/api/v1/bookings/slots?workspace={public['slug']}&booking_type={public['type']}"
        f"&from={moment[:10]}&to={moment[:10]}"
    )
    for query in ({"start": moment}, {"week": moment}, {"start": moment, "tz": "Etc/GMT-14"}):
        assert_page_answers(client.get(booking_page, query))
        assert_page_answers(client.get(manage_page, {"reschedule": "1", **query}))
    details = {"start": moment, "name": "Ann", "email": "ann@example.org"}
    assert_page_answers(client.post(booking_page, details))
    assert_page_answers(client.post(manage_page, {"action": "reschedule", "start": moment}))
    response = anon_api.get(slots)
    if response.status_code != 200:  # a day with no slots, or refused
        assert_api_error(response, 400)
    body = {"workspace": public["slug"], "booking_type": public["type"], **details}
    assert_api_error(anon_api.post("/api/v1/bookings", body, format="json"), 400)


@pytest.mark.parametrize(
    "path", ["/c/%FF/", "/b/%FF/", "/b/x/%FF%FE/", "/f/%FF/", "/booking/%FF/", "/calendar/%FF.ics"]
)
def test_bad_public_paths_are_an_html_404(client, path):
    assert_html_error(client.get(path), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/%00.ics",
        "/booking/%00/",
        "/booking/a%00b/booking.ics",
        "/b/x/done/%00/",
        "/f/%00/",
        "/invitations/%00/",
        "/webhooks/twilio/%00/sms",
        "/accounts/reset/%00/%00/",
    ],
)
def test_a_nul_in_a_path_is_a_400(client, path):
    assert_html_error(client.get(path), 400)
    assert_html_error(client.post(path), 400)


@pytest.mark.parametrize("path", ["/api/v1/contacts/%00", "/api/v1/auth/%00"])
def test_a_nul_in_an_api_path_is_a_json_400(owner_api, path):
    assert_api_error(owner_api.get(path), 400, "bad_request")


# --- Pages: signed in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/contacts/?q=%00",
        "/contacts/?q=%FF%FE&tag=%00&page=abc",
        f"/contacts/?page={10**9}",
        "/bookings/?date=%00&view=%FF",
        "/bookings/calendar/?date=99999-01-01&staff=%00",
        "/inbox/?q=%00&status=%00",
        "/inventory/?q=%00",
        "/forms/?status=%00&q=%00",
        "/alerts/?page=-1",
        f"/alerts/?page={10**30}",
        f"/inbox/?page={10**20}",  # an OFFSET past a bigint
        f"/inbox/list/?selected={10**30}",
        "/bookings/calendar/?date=9999-12-31&view=week",  # no week after the last
        "/bookings/calendar/?date=0001-01-01&view=week",
        f"/bookings/new/?contact={10**30}",
        f"/forms/send/?contact={10**30}&booking={10**30}",
        "/?period=%00",
        "/dashboard/figures/?period=%FF",
    ],
)
def test_bad_query_strings_on_pages_are_answered(owner_client, url):
    assert_page_answers(owner_client.get(url))


def test_a_page_post_over_the_size_limit_is_an_html_413(owner_client):
    response = owner_client.generic(
        "POST",
        "/contacts/new/",
        "name=" + "a" * TOO_BIG,
        content_type="application/x-www-form-urlencoded",
    )

    assert_html_error(response, 413)
