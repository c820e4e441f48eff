"""The support back office as a whole: every model registered, every list and change page
loads in a constant number of queries whatever the data, the Support group's powers (and
limits), the audit trail, the CSV export and the admin login's lockout."""

from __future__ import annotations

import csv
import io

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from careops.support import SUPPORT_GROUP, VIEW_APPS
from contacts.models import Contact
from messaging.models import Message
from tests.full_data import full_workspace
from workspaces.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "support-passphrase-1"


def admin_url(model, view: str, *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def our_models() -> list:
    return [model for label in VIEW_APPS for model in apps.get_app_config(label).get_models()]


@pytest.fixture
def data(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return full_workspace(name="Alpha Clinic", slug="alpha-clinic")


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root@careops.test", PASSWORD)
    client.force_login(user)
    return client


@pytest.fixture
def support_user():
    user = User.objects.create_user("help@careops.test", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


@pytest.fixture
def support_client(client, support_user):
    client.force_login(support_user)
    return client


def test_every_model_of_the_product_and_the_audit_trail_is_in_the_back_office():
    missing = [m._meta.label for m in [*our_models(), LogEntry] if m not in admin.site._registry]

    assert missing == []


def test_every_list_and_row_page_loads_in_the_same_number_of_queries_with_more_data(
    superuser_client, data, settings, django_assert_max_num_queries
):
    registered = list(admin.site._registry)
    first_ids = {
        model: model.objects.order_by("pk").values_list("pk", flat=True).first()
        for model in registered
    }
    counts = {}
    for model in registered:
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model._meta.label
        counts[model] = len(queries)

    full_workspace(name="Bravo Salon", slug="bravo-salon")
    full_workspace(name="Charlie Care", slug="charlie-care")

    for model in registered:
        # The same list with three times the rows (and workspaces in its filters).
        with django_assert_max_num_queries(counts[model]):
            response = superuser_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model._meta.label
        searched = superuser_client.get(admin_url(model, "changelist"), {"q": "alpha"})
        assert searched.status_code == 200, model._meta.label
        if first_ids[model] is not None:
            row = superuser_client.get(admin_url(model, "change", first_ids[model]))
            assert row.status_code == 200, model._meta.label


def test_contacts_are_found_by_email_or_phone_across_workspaces(superuser_client, data):
    bravo = full_workspace(name="Bravo Salon", slug="bravo-salon")
    wanted = bravo.contacts[0]

    by_email = superuser_client.get(admin_url(Contact, "changelist"), {"q": wanted.email})
    by_phone = superuser_client.get(admin_url(Contact, "changelist"), {"q": wanted.phone})

    for response in (by_email, by_phone):
        assert response.context["cl"].result_count == 1
        assert list(response.context["cl"].result_list) == [wanted]


def test_the_support_group_is_made_by_the_migrations_with_view_everywhere():
    group = Group.objects.get(name=SUPPORT_GROUP)
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))

    for model in our_models():
        assert (model._meta.app_label, f"view_{model._meta.model_name}") in codenames
    assert not any(
        codename.startswith(("add_", "delete_"))
        for _, codename in codenames - {("axes", "delete_accessattempt")}
    )
    assert ("messaging", "change_integration") not in codenames
    assert ("workspaces", "change_user") not in codenames


def test_support_sees_every_list_but_adds_and_deletes_nothing(support_client, data):
    for model in our_models():
        listed = support_client.get(admin_url(model, "changelist"))
        assert listed.status_code == 200, model._meta.label
        assert support_client.get(admin_url(model, "add")).status_code == 403, model
    assert support_client.get(admin_url(LogEntry, "changelist")).status_code == 200
    deleted = support_client.post(
        admin_url(Contact, "delete", data.contacts[0].pk), {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert Contact.objects.filter(pk=data.contacts[0].pk).exists()


def test_only_superusers_edit_accounts_and_integrations(
    support_client, support_user, data, django_user_model
):
    integration = data.email_integration
    user_page = support_client.get(admin_url(User, "change", data.staff.pk))
    user_post = support_client.post(
        admin_url(User, "change", data.staff.pk), {"email": "taken@example.org"}
    )
    integration_post = support_client.post(
        admin_url(type(integration), "change", integration.pk), {"priority": 9}
    )

    assert user_page.status_code == 200  # read-only: support may look an account up
    assert b'name="email"' not in user_page.content
    assert user_post.status_code == 403
    assert integration_post.status_code == 403
    data.staff.refresh_from_db()
    integration.refresh_from_db()
    assert data.staff.email != "taken@example.org"
    assert integration.priority != 9

    # A permission given by mistake does not open them either.
    from django.contrib.auth.models import Permission

    support_user.user_permissions.add(Permission.objects.get(codename="change_integration"))
    refused = support_client.post(
        admin_url(type(integration), "change", integration.pk), {"priority": 9}
    )
    assert refused.status_code == 403


def test_integration_credentials_are_never_shown_in_clear(superuser_client, support_client, data):
    pages = [
        admin_url(type(data.email_integration), "change", data.email_integration.pk),
        admin_url(type(data.sms_integration), "change", data.sms_integration.pk),
        admin_url(type(data.workspace), "change", data.workspace.pk),  # the inline
        admin_url(type(data.email_integration), "changelist"),
    ]
    for client in (superuser_client, support_client):
        for url in pages:
            html = client.get(url).content.decode()
            for name, secret in data.secrets.items():
                assert secret not in html, (url, name)


def test_support_retries_a_failed_message_and_the_change_is_logged(
    support_client, support_user, data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = support_client.post(
            admin_url(Message, "changelist"),
            {"action": "retry_failed", "_selected_action": [data.failed.pk]},
        )

    assert response.status_code == 302
    data.failed.refresh_from_db()
    assert data.failed.status == Message.Status.QUEUED
    entry = LogEntry.objects.get(object_id=str(data.failed.pk), user=support_user)
    assert entry.action_flag == CHANGE
    assert entry.change_message == "Queued again (retry failed)"
    # The message itself is a record: its page shows it read-only.
    page = support_client.get(admin_url(Message, "change", data.failed.pk))
    assert page.status_code == 200 and b'name="body"' not in page.content


def test_support_acknowledges_alerts_and_cancels_bookings_through_the_actions(
    support_client, support_user, data
):
    alert = data.alerts[0]
    support_client.post(
        admin_url(type(alert), "changelist"),
        {"action": "acknowledge_selected", "_selected_action": [alert.pk]},
    )
    support_client.post(
        admin_url(type(data.booking), "changelist"),
        {"action": "cancel_selected", "_selected_action": [data.booking.pk]},
    )

    alert.refresh_from_db()
    data.booking.refresh_from_db()
    assert alert.acknowledged_by == support_user
    assert data.booking.status == "cancelled"
    logged = set(
        LogEntry.objects.filter(user=support_user).values_list("change_message", flat=True)
    )
    assert logged == {"Acknowledged", "Cancelled by support"}


def test_an_edit_through_a_change_form_is_recorded_in_the_audit_trail(support_client, data):
    contact = data.contacts[0]
    page = support_client.get(admin_url(Contact, "change", contact.pk))
    form = page.context["adminform"].form
    posted = {
        name: form[name].value() if form[name].value() is not None else "" for name in form.fields
    }
    posted["name"] = "Renamed By Support"
    posted["tags"] = [tag.pk for tag in contact.tags.all()]
    posted["custom_fields"] = form["custom_fields"].value() or "{}"

    response = support_client.post(admin_url(Contact, "change", contact.pk), posted)

    assert response.status_code == 302, response.content
    contact.refresh_from_db()
    assert contact.name == "Renamed By Support"
    entry = LogEntry.objects.get(object_id=str(contact.pk))
    assert "Name" in entry.get_change_message()


def test_selected_rows_export_as_csv_with_the_lists_columns_formula_safe(support_client, data):
    contact = data.contacts[0]
    Contact.objects.filter(pk=contact.pk).update(name='=HYPERLINK("http://evil")')

    response = support_client.post(
        admin_url(Contact, "changelist"),
        {"action": "export_as_csv", "_selected_action": [contact.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["pk", "name", "email"]
    assert rows[1][0] == str(contact.pk)
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'
    assert len(rows) == 2


def test_an_integrations_csv_export_holds_no_secret(superuser_client, data):
    integration = data.email_integration

    response = superuser_client.post(
        admin_url(type(integration), "changelist"),
        {"action": "export_as_csv", "_selected_action": [integration.pk]},
    )

    text = b"".join(response.streaming_content).decode()
    assert integration.provider in text
    for secret in data.secrets.values():
        assert secret not in text


def test_the_admin_login_locks_after_repeated_failures(client):
    User.objects.create_superuser("root@careops.test", PASSWORD)
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        failed = client.post(url, {"username": "root@careops.test", "password": "wrong"})
        assert failed.status_code == 200  # the form again, with its error
    last = client.post(url, {"username": "root@careops.test", "password": "wrong"})

    locked = client.post(url, {"username": "root@careops.test", "password": PASSWORD})

    assert last.status_code == 429
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    assert "_auth_user_id" not in client.session
