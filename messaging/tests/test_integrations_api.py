"""The integrations API: owners add provider accounts, test them, and never see secrets again."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from messaging.models import Channel, Integration
from messaging.tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/integrations"
API_KEY = "re_live_secret_key_abcd"


@pytest.fixture(autouse=True)
def _development(settings):
    # Plain-http base URLs (the stand-in) and console providers are allowed in development.
    settings.MESSAGING_ALLOW_CONSOLE = True


def resend_body(**overrides):
    return {
        "provider": "resend",
        "credentials": {"api_key": API_KEY},
        "from_address": "hello@alpha.example",
        **overrides,
    }


def twilio_body(**overrides):
    return {
        "provider": "twilio",
        "credentials": {"account_sid": "AC0123456789", "auth_token": "twilio-token-wxyz"},
        "from_address": "+44 7700 900999",
        **overrides,
    }


def field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    return body["fields"]


# --- Create -------------------------------------------------------------------------------------


def test_owner_adds_an_email_integration_and_sees_its_credentials_masked(owner_api, workspace_a):
    response = owner_api.post(URL, resend_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "resend"
    assert body["channel"] == "email"  # derived from the provider
    assert body["priority"] == 1
    assert body["is_active"] is True
    assert body["from_address"] == "hello@alpha.example"
    assert body["credentials_masked"] == {"api_key": "••••••••abcd"}
    assert "credentials" not in body
    assert API_KEY not in response.content.decode()
    integration = Integration.objects.get(pk=body["id"])
    assert integration.workspace == workspace_a
    assert integration.credentials == {"api_key": API_KEY}


def test_credentials_are_stored_encrypted(owner_api):
    pk = owner_api.post(URL, resend_body(), format="json").json()["id"]

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM messaging_integration WHERE id = %s", [pk])
        (stored,) = cursor.fetchone()

    assert stored
    assert API_KEY not in stored
    assert "api_key" not in stored


def test_credentials_never_appear_in_list_detail_or_test_responses(owner_api, stand_in):
    pk = owner_api.post(
        URL,
        resend_body(credentials={"api_key": API_KEY, "api_url": stand_in.url + "/resend/"}),
        format="json",
    ).json()["id"]

    responses = [
        owner_api.get(URL),
        owner_api.get(f"{URL}/{pk}"),
        owner_api.post(f"{URL}/{pk}/test", {}, format="json"),
    ]

    for response in responses:
        assert response.status_code == 200
        assert API_KEY not in response.content.decode()


def test_twilio_integration_shows_its_webhook_urls_and_stores_the_number_in_e164(
    owner_api, settings
):
    response = owner_api.post(URL, twilio_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    key = Integration.objects.get(pk=body["id"]).webhook_key
    assert body["channel"] == "sms"
    assert body["from_address"] == "+447700900999"
    assert body["webhook_urls"] == {
        "inbound_sms": f"{settings.SITE_URL}/webhooks/twilio/{key}/sms",
        "status": f"{settings.SITE_URL}/webhooks/twilio/{key}/status",
    }
    assert body["credentials_masked"] == {
        "account_sid": "••••••••6789",
        "auth_token": "••••••••wxyz",
    }


def test_priority_defaults_to_after_the_last_integration_of_the_channel(owner_api, workspace_a):
    IntegrationFactory(workspace=workspace_a, channel=Channel.EMAIL, priority=4)
    IntegrationFactory(workspace=workspace_a, channel=Channel.SMS, priority=9)

    response = owner_api.post(URL, resend_body(), format="json")

    assert response.json()["priority"] == 5


def test_a_taken_priority_is_a_field_error(owner_api, workspace_a):
    IntegrationFactory(workspace=workspace_a, channel=Channel.EMAIL, priority=1)

    response = owner_api.post(URL, resend_body(priority=1), format="json")

    assert "priority" in field_errors(response)
    assert Integration.objects.count() == 1


def test_the_same_priority_on_another_channel_or_workspace_is_free(
    owner_api, workspace_a, workspace_b
):
    IntegrationFactory(workspace=workspace_a, channel=Channel.SMS, priority=1)
    IntegrationFactory(workspace=workspace_b, channel=Channel.EMAIL, priority=1)

    response = owner_api.post(URL, resend_body(priority=1), format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (resend_body(provider="pigeon"), "provider"),
        (resend_body(channel="sms"), "channel"),
        (resend_body(channel="fax"), "channel"),
        (resend_body(credentials={}), "credentials.api_key"),
        (resend_body(credentials={"api_key": "  "}), "credentials.api_key"),
        (resend_body(credentials={"api_key": "k", "password": "x"}), "credentials.password"),
        (resend_body(credentials="api_key=k"), "credentials"),
        (resend_body(credentials={"api_key": "k", "api_url": "ftp://x"}), "credentials.api_url"),
        (resend_body(provider="mailgun"), "credentials.sender_domain"),
        (resend_body(from_address="not an email"), "from_address"),
        (resend_body(priority=0), "priority"),
        (twilio_body(from_address="hello@alpha.example"), "from_address"),
        (twilio_body(from_address="07700900999"), "from_address"),  # not E.164
        (twilio_body(credentials={"account_sid": "AC1"}), "credentials.auth_token"),
        ({"credentials": {}}, "provider"),
        (resend_body(from_address=""), "from_address"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner_api, body, field):
    response = owner_api.post(URL, body, format="json")

    assert field in field_errors(response)
    assert Integration.objects.count() == 0


def test_console_providers_are_refused_where_they_are_not_allowed(owner_api, settings):
    settings.MESSAGING_ALLOW_CONSOLE = False

    response = owner_api.post(
        URL,
        {"provider": "console", "channel": "email", "from_address": "a@b.example"},
        format="json",
    )

    assert "provider" in field_errors(response)


def test_console_providers_need_a_channel_where_they_are_allowed(owner_api):
    missing = owner_api.post(
        URL, {"provider": "console", "from_address": "a@b.example"}, format="json"
    )
    created = owner_api.post(
        URL,
        {"provider": "console", "channel": "sms", "from_address": "+447700900111"},
        format="json",
    )

    assert "channel" in field_errors(missing)
    assert created.status_code == 201
    assert created.json()["channel"] == "sms"


def test_plain_http_base_urls_are_refused_in_production(owner_api, settings):
    settings.MESSAGING_ALLOW_CONSOLE = False
    body = resend_body(credentials={"api_key": "k", "api_url": "http://10.0.0.1/"})

    response = owner_api.post(URL, body, format="json")

    assert "credentials.api_url" in field_errors(response)


# --- Read, delete, roles ------------------------------------------------------------------------


def test_owner_lists_integrations_by_channel_and_priority_in_constant_queries(
    owner_api, workspace_a, workspace_b, django_assert_max_num_queries
):
    for priority in (2, 1, 3):
        IntegrationFactory(workspace=workspace_a, channel=Channel.EMAIL, priority=priority)
    IntegrationFactory(workspace=workspace_a, channel=Channel.SMS, provider="twilio", priority=1)
    IntegrationFactory(workspace=workspace_b)

    # 4 queries: the user (JWT), the membership and workspace, the count, the page
    with django_assert_max_num_queries(4):
        response = owner_api.get(URL)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["channel"], r["priority"]) for r in rows] == [
        ("email", 1),
        ("email", 2),
        ("email", 3),
        ("sms", 1),
    ]


def test_owner_deletes_an_integration(owner_api, workspace_a):
    integration = IntegrationFactory(workspace=workspace_a)

    response = owner_api.delete(f"{URL}/{integration.pk}")

    assert response.status_code == 204
    assert not Integration.objects.filter(pk=integration.pk).exists()


def test_staff_gets_403_for_everything(staff_api, workspace_a):
    integration = IntegrationFactory(workspace=workspace_a)

    responses = [
        staff_api.get(URL),
        staff_api.post(URL, resend_body(), format="json"),
        staff_api.get(f"{URL}/{integration.pk}"),
        staff_api.delete(f"{URL}/{integration.pk}"),
        staff_api.post(f"{URL}/{integration.pk}/test", {}, format="json"),
    ]

    assert [r.status_code for r in responses] == [403] * 5
    assert Integration.objects.filter(pk=integration.pk).exists()


def test_outsider_gets_404_for_another_workspaces_integration(outsider_api, workspace_a):
    integration = IntegrationFactory(workspace=workspace_a)

    responses = [
        outsider_api.get(f"{URL}/{integration.pk}"),
        outsider_api.delete(f"{URL}/{integration.pk}"),
        outsider_api.post(f"{URL}/{integration.pk}/test", {}, format="json"),
    ]

    assert [r.status_code for r in responses] == [404] * 3
    assert outsider_api.get(URL).json()["results"] == []
    assert Integration.objects.filter(pk=integration.pk).exists()


def test_anonymous_caller_gets_401(anon_api):
    assert anon_api.get(URL).status_code == 401


# --- Test connection ----------------------------------------------------------------------------


def test_testing_an_email_integration_sends_to_the_owner_and_records_success(
    owner_api, owner, stand_in
):
    pk = owner_api.post(
        URL,
        resend_body(credentials={"api_key": API_KEY, "api_url": stand_in.url + "/resend/"}),
        format="json",
    ).json()["id"]

    response = owner_api.post(f"{URL}/{pk}/test", {}, format="json")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "provider": "resend", "error": ""}
    (request,) = stand_in.requests_to("/resend/emails")
    assert request.json["to"] == [owner.email]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert Integration.objects.get(pk=pk).last_success_at is not None


def test_testing_an_integration_that_fails_answers_ok_false_and_records_the_error(
    owner_api, stand_in
):
    pk = owner_api.post(
        URL,
        resend_body(credentials={"api_key": API_KEY, "api_url": stand_in.url + "/resend/"}),
        format="json",
    ).json()["id"]
    stand_in.script("/resend/emails", (401, {"message": "API key is invalid"}))

    response = owner_api.post(f"{URL}/{pk}/test", {}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["error"].startswith("HTTP 401")
    assert "API key is invalid" in body["error"]
    integration = Integration.objects.get(pk=pk)
    assert integration.last_error == body["error"]
    assert integration.last_error_at is not None
    assert integration.last_success_at is None


def test_testing_an_sms_integration_texts_the_given_number(owner_api, stand_in):
    body = twilio_body()
    body["credentials"]["api_base_url"] = stand_in.url + "/twilio"
    pk = owner_api.post(URL, body, format="json").json()["id"]

    response = owner_api.post(f"{URL}/{pk}/test", {"to": "+447700900555"}, format="json")

    assert response.json()["ok"] is True
    (request,) = stand_in.requests_to("/twilio/2010-04-01/Accounts/AC0123456789/Messages.json")
    assert request.form["To"] == "+447700900555"
    assert request.form["From"] == "+447700900999"


def test_testing_an_sms_integration_needs_a_number_in_e164(owner_api, workspace_a):
    integration = IntegrationFactory(
        workspace=workspace_a, provider="twilio", channel=Channel.SMS, from_address="+447700900999"
    )

    response = owner_api.post(f"{URL}/{integration.pk}/test", {"to": "tomorrow"}, format="json")

    assert "to" in field_errors(response)


def test_the_api_schema_never_offers_credentials_in_a_response(owner_api):
    schema = owner_api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    integration_schema = json.loads(schema.content)["components"]["schemas"]["Integration"]
    assert "credentials" not in integration_schema["properties"]
    assert "credentials_masked" in integration_schema["properties"]
