"""Properties of staff-written message templates: whatever text an owner saves is stored or
refused on a field, and what is stored renders, bounded, reading nothing but its variables."""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from careops.errors import InvalidInput
from messaging.message_templates import template_create, template_preview
from messaging.models import MessageTemplate
from messaging.rendering import (
    MAX_OUTPUT_LENGTH,
    render_text,
    template_context,
    template_render,
    template_validate,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/templates"
DB_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Pieces of template syntax, right and wrong, that random text would rarely hit on its own.
SYNTAX = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "|",
    ":",
    ".",
    "'",
    '"',
    " ",
    "\n",
    "{% load static %}",
    "{% include 'base.html' %}",
    "{% extends 'base.html' %}",
    "{% debug %}",
    "{{ settings.SECRET_KEY }}",
    "{{ contact.__class__ }}",
    "{{ contact.name|safe }}",
    "{% for x in link %}",
    "{% for a, b in contact.name %}",
    "{% endfor %}",
    "{% empty %}",
    "{% if contact.name %}",
    "{% else %}",
    "{% endif %}",
    "{% with a=link %}",
    "{% endwith %}",
    "{% comment %}",
    "{% endcomment %}",
    "{% firstof contact.name link %}",
    "\x00",
    "\ud800",
]
VARIABLES = [
    "contact.name",
    "contact.first_name",
    "contact.email",
    "workspace.name",
    "booking.start",
    "booking.when",
    "booking.count",
    "booking.items",
    "booking.items.0",
    "form.notes",
    "staff.first_name",
    "link",
    "link.upper",
    "link.expandtabs",
    "5",
    "1.5",
    "1e999",
    "'text'",
]
FILTERS = [
    "",
    "|first",
    "|last",
    "|length",
    "|upper",
    "|title",
    "|capfirst",
    "|linebreaksbr",
    "|pluralize",
    "|pluralize:'a,b,c'",
    "|yesno:'yes,no'",
    "|yesno:'x'",
    "|date:'H:i'",
    "|date:'r'",
    "|date:'j M Y'",
    "|time:'H'",
    "|floatformat:2",
    "|floatformat:'-3g'",
    "|floatformat:1000000",
    "|truncatechars:-1",
    "|truncatechars:10",
    "|truncatewords:'x'",
    "|join:', '",
    "|join:form.notes",
    "|default:link",
    "|default_if_none:'-'",
]

variable = st.builds(
    lambda name, filters: "{{ " + name + "".join(filters) + " }}",
    st.sampled_from(VARIABLES),
    st.lists(st.sampled_from(FILTERS), max_size=2),
)
leaf = st.one_of(variable, st.text(max_size=8))


def _blocks(children):
    return st.one_of(
        st.lists(children, max_size=4).map("".join),
        st.builds(
            lambda names, seq, reverse, body: (
                f"{{% for {names} in {seq}{reverse} %}}{body}{{% empty %}}-{{% endfor %}}"
            ),
            st.sampled_from(["x", "a, b", "k, v"]),
            st.sampled_from(["link", "form.notes", "booking.items", "booking.count", "5"]),
            st.sampled_from(["", " reversed"]),
            children,
        ),
        st.builds(
            lambda cond, body: f"{{% if {cond} %}}{body}{{% else %}}e{{% endif %}}",
            st.sampled_from(["contact.name", "booking.count > 1", "link in 5", "5|first"]),
            children,
        ),
        st.builds(lambda body: f"{{% with a=link %}}{body}{{{{ a }}}}{{% endwith %}}", children),
    )


# Templates that mostly compile and use the known variables, with filters and loops that meet
# data of the wrong type; and soup of syntax, which mostly does not compile.
well_formed = st.recursive(leaf, _blocks, max_leaves=12)
soup = st.lists(st.one_of(st.sampled_from(SYNTAX), st.text(max_size=6)), max_size=30).map("".join)
template_text = st.one_of(well_formed, soup, st.text(max_size=300), st.just("x{{ link }}" * 600))

# Contact and booking values an attacker may control: markup and template syntax among them.
hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "{{ settings.SECRET_KEY }}",
            "{% load static %}",
            "{% debug %}",
            "<script>alert(1)</script>",
            "{{ contact.__class__ }}",
            "&amp; <b>",
        ]
    ),
)


def render_context(name: str, value: str, long_answer: str) -> dict:
    contact = SimpleNamespace(first_name=name, name=name, email=value, phone=value)
    staff = SimpleNamespace(name=name, email=value)
    workspace = SimpleNamespace(name=name, contact_phone=value, contact_email=value, address=value)
    booking = {
        "start": datetime.date(2030, 6, 3),
        "when": datetime.datetime(2030, 6, 3, 10, 30, tzinfo=datetime.UTC),
        "count": 3,
        "items": [value, name, ("a", "b")],
    }
    return template_context(
        contact=contact,
        workspace=workspace,
        booking=booking,
        form={"notes": long_answer},
        staff=staff,
        link=value,
    )


def _secrets() -> list[str]:
    return [django_settings.SECRET_KEY, django_settings.DATABASES["default"]["NAME"]]


@DB_SETTINGS
@given(
    name=st.one_of(st.text(max_size=120), st.just("Reminder"), soup),
    subject=st.one_of(template_text, st.just(""), st.text(min_size=250, max_size=300)),
    body=st.one_of(template_text, st.text(min_size=4990, max_size=5010)),
    channel=st.sampled_from(["", "email", "sms", "fax"]),
)
@example(name="a\x00b", subject="", body="Hi", channel="")  # DataError: NUL at the insert
@example(name="n" * 101, subject="", body="Hi", channel="")  # DataError: too long for the column
@example(name="N", subject="s" * 256, body="Hi", channel="email")  # the same, for the subject
@example(name="N", subject="", body="Hi \ud800", channel="")  # UnicodeEncodeError at the insert
# VariableDoesNotExist at the preview: a filter's argument names form data the preview lacks
@example(
    name="J", subject="", body="{% for x in link %}{{ x|join:form.notes }}{% endfor %}", channel=""
)
def test_any_template_text_is_saved_or_refused_on_a_field_and_saved_ones_preview(
    workspace_a, owner, name, subject, body, channel
):
    try:
        with transaction.atomic():
            template = template_create(
                workspace=workspace_a,
                actor=owner,
                name=name,
                subject=subject,
                body=body,
                channel=channel,
            )
    except InvalidInput as exc:
        assert exc.fields
        assert set(exc.fields) <= {"name", "subject", "body", "channel"}
        return

    template.refresh_from_db()
    shown_subject, shown_body = template_preview(template=template, workspace=workspace_a)
    assert len(shown_subject) <= MAX_OUTPUT_LENGTH
    assert len(shown_body) <= MAX_OUTPUT_LENGTH
    for secret in _secrets():
        assert secret not in shown_subject + shown_body


# What the properties found: each raised at send time, or took a worker for minutes or a
# megabyte of memory, for a template that validation let through.
FOUND = [
    "{{ 5|first }}",  # TypeError: 'int' object is not subscriptable
    "{{ booking.start|date:'H' }}",  # TypeError: time-related format specifiers on a date
    "{% for x in 5 %}{% endfor %}",  # TypeError: 'int' object is not iterable
    "{% for a, b in link %}{% endfor %}",  # ValueError: Need 2 values to unpack
    "{{ 1.5|floatformat:1000000 }}",  # a million zeros
    "{{ form.notes|join:'" + "y" * 1000 + "' }}",  # ten million characters
    "{% for a in form.notes %}{% for b in form.notes %}.{% endfor %}{% endfor %}",  # 30 s
    "{%if 1%}" * 290 + "x" + "{%endif%}" * 290,  # RecursionError when saved
]


@settings(max_examples=300, deadline=None)
@example(body=FOUND[0], name="", value="", long_answer="")
@example(body=FOUND[1], name="", value="", long_answer="")
@example(body=FOUND[2], name="", value="", long_answer="")
@example(body=FOUND[3], name="", value="", long_answer="")
@example(body=FOUND[4], name="", value="", long_answer="")
@example(body=FOUND[5], name="", value="", long_answer="x" * 10_000)
@example(body=FOUND[6], name="", value="", long_answer="x" * 10_000)
@example(body=FOUND[7], name="", value="", long_answer="")
@given(
    body=template_text,
    name=hostile,
    value=hostile,
    long_answer=st.sampled_from(["", "short answer", "x" * 10_000, "a\tb " * 2000]),
)
def test_a_valid_template_renders_any_values_bounded_and_without_secrets(
    body, name, value, long_answer
):
    try:
        template_validate("", body)
    except InvalidInput as exc:
        assert set(exc.fields) == {"body"}
        return

    # The send path (automation, canned replies): never an exception for a saved template.
    subject, text = template_render(
        MessageTemplate(subject=body if len(body) <= 255 else "", body=body),
        render_context(name, value, long_answer),
    )

    assert len(subject) <= MAX_OUTPUT_LENGTH
    assert len(text) <= MAX_OUTPUT_LENGTH
    for secret in _secrets():
        assert secret not in subject + text


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        # Found by the preview property: VariableDoesNotExist from join's argument, no form.
        ("{% for x in link %}{{ x.upper|join:form.notes }}{% endfor %}", "AB"),
        ("{{ form.a|default:form.notes }}.", "."),
        ("{% with a=contact.name|default:form.x %}{{ a }}{% endwith %}", "Alex"),
        ("{% firstof form.a|default:form.b 'z' %}", "z"),
        ("{% for c in form.q|default:form.r %}{{ c }}{% empty %}none{% endfor %}", "none"),
    ],
)
def test_a_filter_argument_naming_data_the_send_lacks_renders_as_blank(body, shown):
    template_validate("", body)

    _, text = template_render(
        MessageTemplate(subject="", body=body),
        template_context(
            contact=SimpleNamespace(first_name="Alex", name="Alex", email="", phone=""), link="ab"
        ),
    )

    assert text == shown


@settings(max_examples=200, deadline=None)
@given(name=hostile, value=hostile)
def test_values_are_shown_as_given_never_read_as_template_code(name, value):
    context = render_context(name, value, long_answer=value)

    text = render_text(
        "[{{ contact.name }}|{{ contact.email }}|{{ workspace.address }}|{{ form.notes }}"
        "|{% for item in booking.items %}{% if forloop.first %}{{ item }}{% endif %}{% endfor %}]",
        context,
    )

    assert text == f"[{name}|{value}|{value}|{value}|{value}]"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=template_text, subject=st.one_of(st.just(""), soup))
def test_the_templates_api_answers_201_or_400_and_previews_what_it_saved(owner_api, body, subject):
    # Encoded here, escaped as browsers do: the test client's encoder refuses a lone surrogate.
    payload = json.dumps({"name": "API", "subject": subject, "body": body})
    response = owner_api.post(URL, payload, content_type="application/json")

    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert set(response.json()["fields"]) <= {"name", "subject", "body"}
        return
    template_id = response.json()["id"]
    preview = owner_api.post(f"{URL}/{template_id}/preview", {}, format="json")
    assert preview.status_code == 200, preview.content
    assert len(preview.json()["body"]) <= MAX_OUTPUT_LENGTH
    assert owner_api.delete(f"{URL}/{template_id}").status_code == 204
