"""The owner's messaging settings pages: email/SMS providers (integrations) and templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from messaging.models import Channel, Integration, MessageTemplate
from messaging.tests.factories import IntegrationFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
API_KEY = "re_live_secret_key_abcd"
AUTH_TOKEN = "twilio-secret-token-wxyz"
LIST = "/settings/integrations/"
NEW = "/settings/integrations/new/"
TEMPLATES = "/settings/templates/"


@pytest.fixture
def development(settings):
    # Plain-http base URLs (the stand-in) and console providers are allowed in development.
    settings.MESSAGING_ALLOW_CONSOLE = True
    return settings


def resend(workspace, stand_in=None, **fields) -> Integration:
    credentials = {"api_key": API_KEY}
    if stand_in is not None:
        credentials["api_url"] = stand_in.url + "/resend/"
    defaults = {
        "provider": "resend",
        "channel": Channel.EMAIL,
        "from_address": "hello@alpha.example",
        "credentials": credentials,
    }
    return IntegrationFactory(workspace=workspace, **{**defaults, **fields})


def twilio(workspace, stand_in=None, **fields) -> Integration:
    credentials = {"account_sid": "AC0123456789", "auth_token": AUTH_TOKEN}
    if stand_in is not None:
        credentials["api_base_url"] = stand_in.url + "/twilio"
    defaults = {
        "provider": "twilio",
        "channel": Channel.SMS,
        "from_address": "+447700900999",
        "credentials": credentials,
    }
    return IntegrationFactory(workspace=workspace, **{**defaults, **fields})


def resend_form(stand_in=None, **overrides) -> dict:
    data = {
        "provider": "resend",
        "api_key": API_KEY,
        "from_address": "hello@alpha.example",
        "priority": "",
        "api_url": stand_in.url + "/resend/" if stand_in else "",
    }
    return {**data, **overrides}


def test_settings_pages_ask_anonymous_visitors_to_sign_in(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- The list -----------------------------------------------------------------------------------


def test_owner_lists_integrations_by_channel_in_fallback_order_without_secrets(
    owner_client, workspace_a, workspace_b, settings
):
    resend(workspace_a, priority=2, from_address="second@alpha.example")
    resend(workspace_a, priority=1, from_address="first@alpha.example")
    sms = twilio(workspace_a, priority=1)
    resend(workspace_b, from_address="bravo@bravo.example")

    response = owner_client.get(LIST)

    page = response.content.decode()
    assert response.status_code == 200
    assert API_KEY not in page
    assert AUTH_TOKEN not in page
    assert "••••••••abcd" in page  # the API key's mask
    assert "••••••••wxyz" in page  # the auth token's mask
    assert page.index("first@alpha.example") < page.index("second@alpha.example")
    assert page.index("second@alpha.example") < page.index("+447700900999")
    assert "bravo@bravo.example" not in page
    assert f"{settings.SITE_URL}/webhooks/twilio/{sms.webhook_key}/sms" in page
    assert f"{settings.SITE_URL}/webhooks/twilio/{sms.webhook_key}/status" in page
    assert "If the first fails, the next is tried" in page


def test_the_list_shows_the_last_success_and_the_last_error_with_their_time(
    owner_client, workspace_a
):
    workspace_a.timezone = "America/New_York"
    workspace_a.save()
    resend(
        workspace_a,
        last_error="HTTP 401 API key is invalid",
        last_error_at=datetime(2025, 3, 10, 15, 30, tzinfo=UTC),
        last_success_at=datetime(2025, 3, 9, 12, 0, tzinfo=UTC),
    )

    page = owner_client.get(LIST).content.decode()

    assert "HTTP 401 API key is invalid" in page
    assert "10 Mar 2025, 11:30" in page  # in the workspace's time zone
    assert "9 Mar 2025, 08:00" in page


@pytest.mark.parametrize("size", [2, 12])
def test_the_list_renders_in_a_constant_number_of_queries(
    owner_client, workspace_a, size, django_assert_max_num_queries
):
    for index in range(size):
        (twilio if index % 2 else resend)(workspace_a, priority=index + 1)

    # 5 queries: session, user, membership + workspace, the integrations, the workspace switcher
    with django_assert_max_num_queries(5):
        response = owner_client.get(LIST)

    assert response.status_code == 200
    assert response.content.decode().count('data-testid="integration"') == size


# --- Adding a provider --------------------------------------------------------------------------


def test_the_new_page_offers_the_providers_and_no_fields_until_one_is_chosen(owner_client):
    response = owner_client.get(NEW)

    page = response.content.decode()
    assert response.status_code == 200
    assert '<option value="resend">Resend (email)</option>' in page
    assert '<option value="twilio">Twilio (SMS)</option>' in page
    assert 'value="console"' not in page  # not allowed here
    assert 'data-testid="integration-form"' not in page


def test_console_providers_are_offered_where_they_are_allowed(owner_client, development):
    page = owner_client.get(NEW).content.decode()

    assert '<option value="console">Console (development) (email or SMS)</option>' in page


def test_choosing_a_provider_shows_its_credential_fields(owner_client):
    page = owner_client.get(NEW, {"provider": "mailgun"}).content.decode()

    assert 'type="password" name="api_key"' in page
    assert 'name="sender_domain"' in page
    assert 'name="api_url"' in page  # advanced
    assert 'name="priority"' in page
    assert '<input type="hidden" name="provider" value="mailgun"' in page
    assert "Add Mailgun" in page


def test_twilio_asks_for_the_account_sid_and_a_secret_auth_token(owner_client):
    page = owner_client.get(NEW, {"provider": "twilio"}).content.decode()

    assert 'type="text" name="account_sid"' in page
    assert 'type="password" name="auth_token"' in page
    assert 'name="api_base_url"' in page
    assert 'name="api_key"' not in page


def test_htmx_reloads_only_the_form_for_the_chosen_provider(owner_client):
    response = owner_client.get(NEW, {"provider": "postmark"}, **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith('<div id="integration-form">')
    assert "<html" not in page
    assert "Server token" in page


def test_restoring_a_pushed_provider_url_from_the_history_gets_the_whole_page(owner_client):
    response = owner_client.get(
        NEW, {"provider": "postmark"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )

    assert "<html" in response.content.decode()


def test_an_unknown_provider_is_a_400_on_the_provider_select(owner_client):
    response = owner_client.get(NEW, {"provider": "pigeon"})

    assert response.status_code == 400
    assert 'id="id_choose_provider_error"' in response.content.decode()


def test_owner_adds_a_resend_integration_through_the_form(
    owner_client, workspace_a, stand_in, development
):
    response = owner_client.post(NEW, resend_form(stand_in))

    integration = Integration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}#integration-{integration.pk}"
    assert integration.workspace == workspace_a
    assert integration.channel == "email"
    assert integration.priority == 1
    assert integration.from_address == "hello@alpha.example"
    assert integration.credentials == {"api_key": API_KEY, "api_url": stand_in.url + "/resend/"}
    page = owner_client.get(response["Location"]).content.decode()
    assert "Resend is added." in page
    assert "••••••••abcd" in page
    assert API_KEY not in page


def test_a_new_integration_completes_the_onboarding_step(owner_client, stand_in, development):
    owner_client.post(NEW, resend_form(stand_in))

    page = owner_client.get("/").content.decode()

    assert 'class="done" data-step="communication"' in page


def test_owner_adds_twilio_with_a_number_in_e164(owner_client):
    response = owner_client.post(
        NEW,
        {
            "provider": "twilio",
            "account_sid": "AC0123456789",
            "auth_token": AUTH_TOKEN,
            "from_address": "+44 7700 900999",
            "priority": "3",
        },
    )

    assert response.status_code == 302
    integration = Integration.objects.get()
    assert (integration.channel, integration.priority) == ("sms", 3)
    assert integration.from_address == "+447700900999"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (resend_form(api_key=""), "api_key"),
        (resend_form(from_address="not an email"), "from_address"),
        (resend_form(from_address=""), "from_address"),
        (resend_form(api_url="ftp://example.com/"), "api_url"),
        (resend_form(priority="0"), "priority"),
        (resend_form(priority="first"), "priority"),
        (resend_form(provider="mailgun"), "sender_domain"),
        (
            {"provider": "twilio", "account_sid": "AC1", "from_address": "+447700900999"},
            "auth_token",
        ),
        (
            {
                "provider": "twilio",
                "account_sid": "AC1",
                "auth_token": "t",
                "from_address": "07700",
            },
            "from_address",
        ),
    ],
)
def test_bad_input_shows_the_error_on_its_field_with_400(owner_client, data, field):
    response = owner_client.post(NEW, data)

    page = response.content.decode()
    assert response.status_code == 400
    assert f'<div id="id_{field}_error"><p class="error">' in page
    assert Integration.objects.count() == 0
    assert API_KEY not in page  # a secret is never written back into the page


def test_an_error_on_an_advanced_field_opens_the_advanced_section(owner_client):
    page = owner_client.post(NEW, resend_form(api_url="ftp://x/")).content.decode()

    assert '<details class="advanced" open>' in page


def test_plain_http_api_urls_are_refused_where_console_providers_are_not_allowed(owner_client):
    response = owner_client.post(NEW, resend_form(api_url="http://10.0.0.1/"))

    assert response.status_code == 400
    assert "Enter a URL starting with https://." in response.content.decode()
    assert Integration.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://localhost:6379/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://192.168.1.20:8443/v3",
    ],
)
def test_api_urls_inside_a_private_network_are_refused_in_production(owner_client, url):
    """Else the server would call whatever an owner typed (request forgery): the cloud's metadata
    service, the database, Redis."""
    response = owner_client.post(NEW, resend_form(api_url=url))

    assert response.status_code == 400
    assert "inside a private network" in response.content.decode()
    assert Integration.objects.count() == 0


def test_a_public_https_api_url_is_accepted(owner_client):
    response = owner_client.post(NEW, resend_form(api_url="https://93.184.215.14/"))

    assert response.status_code == 302
    assert Integration.objects.get().credentials["api_url"] == "https://93.184.215.14/"


def test_a_taken_place_in_the_order_is_an_error_on_priority(owner_client, workspace_a):
    resend(workspace_a, priority=1)

    response = owner_client.post(NEW, resend_form(priority="1"))

    assert response.status_code == 400
    assert "Another email integration is number 1" in response.content.decode()
    assert Integration.objects.count() == 1


def test_console_providers_cannot_be_added_where_they_are_not_allowed(owner_client):
    response = owner_client.post(
        NEW, {"provider": "console", "channel": "email", "from_address": "a@alpha.example"}
    )

    assert response.status_code == 400
    assert 'id="id_choose_provider_error"' in response.content.decode()
    assert Integration.objects.count() == 0


def test_console_providers_ask_for_their_channel(owner_client, development):
    missing = owner_client.post(NEW, {"provider": "console", "from_address": "a@alpha.example"})
    added = owner_client.post(
        NEW, {"provider": "console", "channel": "sms", "from_address": "+447700900111"}
    )

    assert missing.status_code == 400
    assert 'id="id_channel_error"' in missing.content.decode()
    assert added.status_code == 302
    assert Integration.objects.get().channel == "sms"


# --- Sending a test -----------------------------------------------------------------------------


def test_the_test_button_emails_the_owner_and_shows_the_success(
    owner_client, owner, workspace_a, stand_in, development
):
    integration = resend(workspace_a, stand_in)

    response = owner_client.post(f"{LIST}{integration.pk}/test/", **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert page.strip().startswith(f'<li id="integration-{integration.pk}"')
    assert "Test sent: Resend accepted it" in page
    (request,) = stand_in.requests_to("/resend/emails")
    assert request.json["to"] == [owner.email]
    integration.refresh_from_db()
    assert integration.last_success_at is not None
    assert API_KEY not in page


def test_a_failed_test_shows_the_providers_error_and_records_it(
    owner_client, workspace_a, stand_in, development
):
    integration = resend(workspace_a, stand_in)
    stand_in.script("/resend/emails", (401, {"message": "API key is invalid"}))

    response = owner_client.post(f"{LIST}{integration.pk}/test/", **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "The test failed: HTTP 401" in page
    assert "API key is invalid" in page
    integration.refresh_from_db()
    assert integration.last_error.startswith("HTTP 401")
    assert integration.last_error_at is not None
    assert integration.last_success_at is None


def test_without_javascript_the_test_result_is_a_flash_message(
    owner_client, workspace_a, stand_in, development
):
    integration = resend(workspace_a, stand_in)

    response = owner_client.post(f"{LIST}{integration.pk}/test/", follow=True)

    assert response.redirect_chain == [(f"{LIST}#integration-{integration.pk}", 302)]
    assert "Resend accepted the test message." in response.content.decode()


def test_testing_an_sms_integration_texts_the_given_number(
    owner_client, workspace_a, stand_in, development
):
    integration = twilio(workspace_a, stand_in)

    response = owner_client.post(f"{LIST}{integration.pk}/test/", {"to": "+447700900555"}, **HTMX)

    assert response.status_code == 200
    assert "Test sent: Twilio accepted it" in response.content.decode()
    (request,) = stand_in.requests_to("/twilio/2010-04-01/Accounts/AC0123456789/Messages.json")
    assert request.form["To"] == "+447700900555"


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "plain"])
def test_an_sms_test_needs_a_number_in_e164(owner_client, workspace_a, stand_in, headers):
    integration = twilio(workspace_a, stand_in)

    response = owner_client.post(f"{LIST}{integration.pk}/test/", {"to": "tomorrow"}, **headers)

    page = response.content.decode()
    assert response.status_code == 400
    assert f'<div id="test-to-{integration.pk}_error"><p class="error">Enter the number' in page
    assert 'value="tomorrow"' in page
    assert stand_in.requests == []


# --- Removing -----------------------------------------------------------------------------------


def test_owner_removes_an_integration(owner_client, workspace_a):
    integration = resend(workspace_a)

    response = owner_client.post(f"{LIST}{integration.pk}/delete/", follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert "Resend (hello@alpha.example) is removed." in response.content.decode()
    assert not Integration.objects.filter(pk=integration.pk).exists()


def test_removing_asks_for_a_confirmation_first(owner_client, workspace_a):
    integration = resend(workspace_a)

    page = owner_client.get(LIST).content.decode()

    delete_url = f"{LIST}{integration.pk}/delete/"
    assert page.index("<summary>Remove</summary>") < page.index(delete_url)


def test_outsider_gets_404_for_another_workspaces_integration(outsider_client, workspace_a):
    integration = resend(workspace_a)

    responses = [
        outsider_client.post(f"{LIST}{integration.pk}/test/"),
        outsider_client.post(f"{LIST}{integration.pk}/delete/"),
    ]

    assert [r.status_code for r in responses] == [404, 404]
    integration.refresh_from_db()
    assert integration.last_success_at is None
    assert integration.last_error_at is None


def test_staff_get_403_on_every_settings_page(staff_client, workspace_a):
    integration = resend(workspace_a)
    template = MessageTemplateFactory(workspace=workspace_a)

    responses = [
        staff_client.get(LIST),
        staff_client.get(NEW),
        staff_client.get(NEW, {"provider": "resend"}),
        staff_client.post(NEW, resend_form()),
        staff_client.post(f"{LIST}{integration.pk}/test/"),
        staff_client.post(f"{LIST}{integration.pk}/delete/"),
        staff_client.get(TEMPLATES),
        staff_client.get(f"{TEMPLATES}new/"),
        staff_client.post(f"{TEMPLATES}new/", {"name": "Hi", "body": "Hi"}),
        staff_client.post(f"{TEMPLATES}preview/", {"body": "Hi"}),
        staff_client.get(f"{TEMPLATES}{template.pk}/"),
        staff_client.post(f"{TEMPLATES}{template.pk}/", {"name": "X", "body": "X"}),
        staff_client.post(f"{TEMPLATES}{template.pk}/delete/"),
    ]

    assert [r.status_code for r in responses] == [403] * len(responses)
    assert Integration.objects.count() == 1
    assert MessageTemplate.objects.get().name == template.name


# --- Navigation and the onboarding checklist ----------------------------------------------------


def test_the_onboarding_step_communication_leads_to_the_integrations_page(owner_client):
    page = owner_client.get("/").content.decode()
    wizard_step = reverse("onboarding-step", args=["communication"])

    assert f'<a href="{wizard_step}">Email or SMS channel</a>' in page
    assert f'href="{LIST}"' in owner_client.get(wizard_step).content.decode()


def test_owners_see_a_settings_link_and_staff_do_not(owner_client, staff, client):
    owner_page = owner_client.get("/").content.decode()
    client.force_login(staff)
    staff_page = client.get("/").content.decode()

    assert f'<a href="{LIST}">Settings</a>' in owner_page
    assert ">Settings</a>" not in staff_page


# --- Message templates --------------------------------------------------------------------------


def test_owner_lists_templates_with_channel_subject_and_first_line(
    owner_client, workspace_a, workspace_b
):
    MessageTemplateFactory(
        workspace=workspace_a,
        name="Running late",
        channel="sms",
        body="\nHi {{ contact.first_name }}, we run 10 minutes late.\nSorry!",
    )
    MessageTemplateFactory(
        workspace=workspace_a, name="Welcome", channel="email", subject="Welcome!", body="Hello"
    )
    MessageTemplateFactory(workspace=workspace_b, name="Bravo's own")

    page = owner_client.get(TEMPLATES).content.decode()

    assert "Running late" in page
    assert "Hi {{ contact.first_name }}, we run 10 minutes late." in page
    assert "Sorry!" not in page  # the first line only
    assert "Welcome!" in page
    assert "Bravo&#x27;s own" not in page
    assert page.index("Running late") < page.index("Welcome")


@pytest.mark.parametrize("size", [2, 20])
def test_the_template_list_renders_in_a_constant_number_of_queries(
    owner_client, workspace_a, size, django_assert_max_num_queries
):
    MessageTemplateFactory.create_batch(size, workspace=workspace_a)

    # 5 queries: session, user, membership + workspace, the templates, the workspace switcher
    with django_assert_max_num_queries(5):
        response = owner_client.get(TEMPLATES)

    assert response.status_code == 200
    assert response.content.decode().count('class="contact-name"') == size


def test_owner_creates_a_template(owner_client, workspace_a):
    response = owner_client.post(
        f"{TEMPLATES}new/",
        {
            "name": "Reminder",
            "channel": "email",
            "subject": "See you",
            "body": "Hi {{ contact.first_name }}",
        },
        follow=True,
    )

    assert response.redirect_chain == [(TEMPLATES, 302)]
    assert "“Reminder” is saved." in response.content.decode()
    template = MessageTemplate.objects.get()
    assert (template.workspace, template.channel, template.subject) == (
        workspace_a,
        "email",
        "See you",
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "body": "Hi"}, "name", "Name the template."),
        ({"name": "A", "body": ""}, "body", "Write the message."),
        ({"name": "A", "body": "Hi {{ client.name }}"}, "body", "Unknown variable “client.name”"),
        ({"name": "A", "body": "{% load static %}"}, "body", "load"),
        ({"name": "A", "body": "Hi", "subject": "{{ secret }}"}, "subject", "Unknown variable"),
        ({"name": "A", "channel": "sms", "subject": "S", "body": "Hi"}, "subject", "no subject"),
    ],
)
def test_template_errors_show_on_their_field_with_400(owner_client, data, field, message):
    response = owner_client.post(f"{TEMPLATES}new/", data)

    page = response.content.decode()
    assert response.status_code == 400
    error_start = page.index(f'<div id="id_{field}_error">')
    assert message in page[error_start : page.index("</div>", error_start)]
    assert MessageTemplate.objects.count() == 0


def test_a_duplicate_name_is_an_error_on_the_name(owner_client, workspace_a):
    MessageTemplateFactory(workspace=workspace_a, name="Reminder")

    response = owner_client.post(f"{TEMPLATES}new/", {"name": "reminder", "body": "Hi"})

    assert response.status_code == 400
    assert "Another template has this name." in response.content.decode()


def test_owner_edits_a_template(owner_client, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, name="Old", body="Old body")
    url = f"{TEMPLATES}{template.pk}/"

    form_page = owner_client.get(url).content.decode()
    response = owner_client.post(url, {"name": "New", "channel": "", "body": "New body"})

    assert "Old body</textarea>" in form_page
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.body) == ("New", "New body")


def test_a_refused_edit_keeps_the_stored_template(owner_client, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, name="Old", body="Old body")

    response = owner_client.post(f"{TEMPLATES}{template.pk}/", {"name": "New", "body": "{% if %}"})

    assert response.status_code == 400
    assert '<div id="id_body_error">' in response.content.decode()
    template.refresh_from_db()
    assert (template.name, template.body) == ("Old", "Old body")


def test_the_preview_renders_the_draft_for_a_sample_client(owner_client, workspace_a):
    response = owner_client.post(
        f"{TEMPLATES}preview/",
        {
            "name": "",
            "subject": "For {{ contact.name }}",
            "body": "Hi {{ contact.first_name }}, welcome to {{ workspace.name }}.",
        },
        **HTMX,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith('<section id="template-preview"')
    assert "For Alex Example" in page
    assert "Hi Alex, welcome to Alpha Clinic." in page


def test_the_preview_shows_sandbox_errors_with_400(owner_client):
    response = owner_client.post(
        f"{TEMPLATES}preview/", {"body": "Hi {{ settings.SECRET_KEY }}"}, **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Fix the template to see it" in page
    assert "Message: Unknown variable “settings.SECRET_KEY”" in page


def test_without_javascript_the_preview_button_shows_the_preview_and_saves_nothing(
    owner_client, workspace_a
):
    template = MessageTemplateFactory(workspace=workspace_a, name="Hi", body="Hi")

    response = owner_client.post(
        f"{TEMPLATES}{template.pk}/",
        {"name": "Hi", "body": "Hello {{ contact.first_name }}", "preview": "1"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Hello Alex" in page
    assert "<html" in page
    template.refresh_from_db()
    assert template.body == "Hi"


def test_owner_deletes_a_template(owner_client, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, name="Gone soon")

    response = owner_client.post(f"{TEMPLATES}{template.pk}/delete/", follow=True)

    assert response.redirect_chain == [(TEMPLATES, 302)]
    assert "“Gone soon” is deleted." in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_outsider_gets_404_for_another_workspaces_template(outsider_client, workspace_a):
    template = MessageTemplateFactory(workspace=workspace_a, name="Alpha's")

    responses = [
        outsider_client.get(f"{TEMPLATES}{template.pk}/"),
        outsider_client.post(f"{TEMPLATES}{template.pk}/", {"name": "Taken", "body": "x"}),
        outsider_client.post(f"{TEMPLATES}{template.pk}/delete/"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert MessageTemplate.objects.get().name == "Alpha's"
