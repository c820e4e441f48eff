"""Message templates: sandboxed rendering, validation, and the templates API."""

from __future__ import annotations

import datetime

import pytest

from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory
from messaging.models import MessageTemplate
from messaging.rendering import render_text, template_context, template_render, template_validate
from messaging.tests.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/templates"


@pytest.fixture
def contact(workspace_a):
    return ContactFactory(
        workspace=workspace_a, name="Dana Client", email="dana@example.org", phone="+447700900123"
    )


def refused(subject: str = "", body: str = "Hi") -> dict:
    with pytest.raises(InvalidInput) as caught:
        template_validate(subject, body)
    return caught.value.fields


# --- Rendering ------------------------------------------------------------------------------------


def test_a_template_renders_with_the_contact_workspace_and_booking(workspace_a, contact):
    workspace_a.contact_phone = "+441234567890"
    template = MessageTemplate(
        subject="Your visit to {{ workspace.name }}",
        body=(
            "Hi {{ contact.first_name }}, see you {{ booking.start_local }}."
            "{% if booking.notes %} Note: {{ booking.notes }}{% endif %}"
            " Call {{ workspace.phone|default:'us' }}."
        ),
    )
    context = template_context(
        contact=contact, workspace=workspace_a, booking={"start_local": "Mon 3 June, 10:00"}
    )

    subject, body = template_render(template, context)

    assert subject == "Your visit to Alpha Clinic"
    assert body == "Hi Dana, see you Mon 3 June, 10:00. Call +441234567890."


def test_rendering_does_not_html_escape_plain_text(workspace_a):
    workspace_a.name = "Smith & Sons <Clinic>"

    text = render_text("{{ workspace.name }}", template_context(workspace=workspace_a))

    assert text == "Smith & Sons <Clinic>"


def test_unknown_keys_render_as_nothing(contact):
    text = render_text("[{{ contact.shoe_size }}]", template_context(contact=contact))

    assert text == "[]"


def test_loops_and_filters_of_the_curated_set_work():
    context = template_context(
        booking={"items": ["cut", "colour"], "start": datetime.date(2030, 6, 3)}
    )

    text = render_text(
        "{% for item in booking.items %}{{ forloop.counter }}. {{ item|upper }} {% endfor %}"
        "{{ booking.items|join:', ' }} {{ booking.start|date:'j M Y' }}",
        context,
    )

    assert text == "1. CUT 2. COLOUR cut, colour 3 Jun 2030"


# --- The sandbox ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{% load static %}{% static 'x' %}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% debug %}",
        "{% csrf_token %}",
        "{% url 'admin:index' %}",
        "{% now 'Y' %}",
        "{% ssi '/etc/passwd' %}",
        "{{ contact.__class__ }}",
        "{{ contact._meta }}",
        "{{ contact.name|safe }}",
        "{{ contact.name|pprint }}",
        "{% if %}",
        "{% for x %}{% endfor %}",
    ],
)
def test_the_sandbox_refuses_tags_filters_and_attributes_outside_the_curated_set(body):
    assert "body" in refused(body=body)


@pytest.mark.parametrize(
    "body", ["{{ settings.SECRET_KEY }}", "{{ request.user }}", "{{ user.password }}", "{{ x }}"]
)
def test_variables_outside_the_known_roots_are_refused(body):
    errors = refused(body=body)

    assert "Unknown variable" in errors["body"][0]


def test_unknown_variables_are_found_in_conditions_loops_filter_arguments_and_with():
    assert refused(body="{% if secret %}x{% endif %}")
    assert refused(body="{% if contact.name and not secret.x %}x{% endif %}")
    assert refused(body="{% for x in secrets %}{% endfor %}")
    assert refused(body="{{ contact.name|default:secret }}")
    assert refused(body="{% with a=secret %}{{ a }}{% endwith %}")
    assert refused(body="{% firstof contact.name secret %}")
    assert refused(subject="{{ secret }}", body="Hi") == {
        "subject": [
            "Unknown variable “secret”: use contact, workspace, booking, form, staff or link."
        ]
    }


def test_loop_and_with_variables_are_known_inside_their_block_only():
    template_validate(
        "", "{% for item in booking.items %}{{ item }}{{ forloop.counter }}{% endfor %}"
    )
    template_validate("", "{% with name=contact.first_name %}{{ name }}{% endwith %}")
    assert refused(body="{% for item in booking.items %}{% endfor %}{{ item }}")


def test_loops_nest_two_deep_at_most():
    template_validate("", "{% for a in booking.x %}{% for b in a %}{{ b }}{% endfor %}{% endfor %}")

    errors = refused(
        body="{% for a in link %}{% for b in link %}{% for c in link %}{% endfor %}"
        "{% endfor %}{% endfor %}"
    )

    assert "nested" in errors["body"][0]


def test_a_template_cannot_change_the_data_it_is_given(contact):
    context = template_context(contact=contact, booking={"a": "1"})

    text = render_text("{{ booking.clear }}{{ booking.popitem }}{{ booking.a }}", context)

    assert text.endswith("1")
    assert context["booking"] == {"a": "1"}


def test_model_instances_never_reach_a_template(contact):
    context = {"contact": contact}  # a careless caller

    text = render_text("{{ contact.delete }}{{ contact.name }}|{{ contact }}", context)

    # It was reduced to its text before rendering: no method of it could be called.
    assert text == "|Dana Client"
    assert contact.__class__.objects.filter(pk=contact.pk).exists()


# --- API ------------------------------------------------------------------------------------------


def test_owner_creates_a_template(owner_api, workspace_a):
    response = owner_api.post(
        URL,
        {"name": "Reminder", "channel": "email", "subject": "Hi", "body": "Hi {{ contact.name }}"},
        format="json",
    )

    assert response.status_code == 201, response.content
    template = MessageTemplate.objects.get(pk=response.json()["id"])
    assert (template.workspace, template.name, template.channel) == (
        workspace_a,
        "Reminder",
        "email",
    )


def test_a_template_with_an_unknown_variable_is_a_400_on_body(owner_api):
    response = owner_api.post(
        URL, {"name": "Bad", "body": "{{ settings.SECRET_KEY }}"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["body"][0]["message"].startswith("Unknown variable")


def test_a_syntax_error_is_a_400_on_body(owner_api):
    response = owner_api.post(URL, {"name": "Bad", "body": "{% include 'x' %}"}, format="json")

    assert response.status_code == 400
    assert "include" in response.json()["fields"]["body"][0]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "body": "Hi"}, "name"),
        ({"name": "A", "body": ""}, "body"),
        ({"name": "A", "body": "Hi", "channel": "fax"}, "channel"),
        ({"name": "A", "body": "Hi", "channel": "sms", "subject": "Hello"}, "subject"),
        ({"name": "Existing", "body": "Hi"}, "name"),
        ({"name": "EXISTING", "body": "Hi"}, "name"),
        ({"name": "A", "body": "x" * 5001}, "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner_api, workspace_a, body, field):
    MessageTemplateFactory(workspace=workspace_a, name="Existing")

    response = owner_api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_another_workspace_may_use_the_same_name(owner_api, workspace_b):
    MessageTemplateFactory(workspace=workspace_b, name="Reminder")

    response = owner_api.post(URL, {"name": "Reminder", "body": "Hi"}, format="json")

    assert response.status_code == 201


def test_owner_updates_and_deletes_a_template(owner_api, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, name="Old")

    patched = owner_api.patch(
        f"{URL}/{template.pk}", {"body": "Bye {{ contact.first_name }}"}, format="json"
    )
    refused_update = owner_api.patch(f"{URL}/{template.pk}", {"body": "{{ x }}"}, format="json")
    deleted = owner_api.delete(f"{URL}/{template.pk}")

    assert patched.status_code == 200
    assert patched.json()["body"] == "Bye {{ contact.first_name }}"
    assert patched.json()["name"] == "Old"
    assert refused_update.status_code == 400
    assert deleted.status_code == 204
    assert not MessageTemplate.objects.filter(pk=template.pk).exists()


def test_renaming_a_template_to_its_own_name_is_allowed(owner_api, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, name="Reminder")

    response = owner_api.patch(f"{URL}/{template.pk}", {"name": "reminder"}, format="json")

    assert response.status_code == 200


def test_staff_reads_and_previews_but_cannot_write(staff_api, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a)

    assert staff_api.get(URL).status_code == 200
    assert staff_api.get(f"{URL}/{template.pk}").status_code == 200
    assert staff_api.post(f"{URL}/{template.pk}/preview", {}, format="json").status_code == 200
    assert staff_api.post(URL, {"name": "X", "body": "Hi"}, format="json").status_code == 403
    assert staff_api.patch(f"{URL}/{template.pk}", {"name": "Y"}, format="json").status_code == 403
    assert staff_api.delete(f"{URL}/{template.pk}").status_code == 403


def test_templates_list_in_constant_queries(
    owner_api, workspace_a, workspace_b, django_assert_max_num_queries
):
    for name in ("b", "a", "c"):
        MessageTemplateFactory(workspace=workspace_a, name=name)
    MessageTemplateFactory(workspace=workspace_b, name="other")

    # 4 queries: the user (JWT), the membership and workspace, the count, the page
    with django_assert_max_num_queries(4):
        response = owner_api.get(URL)

    assert [t["name"] for t in response.json()["results"]] == ["a", "b", "c"]


def test_preview_renders_for_a_contact_of_the_workspace(owner_api, workspace_a, contact):
    template = MessageTemplateFactory(
        workspace=workspace_a,
        subject="{{ workspace.name }}",
        body="Hi {{ contact.first_name }}, see you {{ booking.start_local }}",
    )

    response = owner_api.post(
        f"{URL}/{template.pk}/preview", {"contact_id": contact.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "subject": "Alpha Clinic",
        "body": "Hi Dana, see you Monday 3 June, 10:00",
    }


def test_preview_without_a_contact_uses_a_sample(owner_api, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, body="Hi {{ contact.first_name }}")

    response = owner_api.post(f"{URL}/{template.pk}/preview", {}, format="json")

    assert response.json()["body"] == "Hi Alex"


def test_preview_with_another_workspaces_contact_gets_404(owner_api, workspace_a, workspace_b):
    template = MessageTemplateFactory(workspace=workspace_a)
    theirs = ContactFactory(workspace=workspace_b)

    response = owner_api.post(
        f"{URL}/{template.pk}/preview", {"contact_id": theirs.pk}, format="json"
    )

    assert response.status_code == 404


def test_outsider_gets_404_for_another_workspaces_template(outsider_api, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a)

    responses = [
        outsider_api.get(f"{URL}/{template.pk}"),
        outsider_api.patch(f"{URL}/{template.pk}", {"name": "Mine"}, format="json"),
        outsider_api.delete(f"{URL}/{template.pk}"),
        outsider_api.post(f"{URL}/{template.pk}/preview", {}, format="json"),
    ]

    assert [r.status_code for r in responses] == [404] * 4
    assert outsider_api.get(URL).json()["results"] == []
    template.refresh_from_db()
    assert template.name != "Mine"
