"""Two workspaces cannot see each other through any API endpoint.

The sweep walks the OpenAPI schema, so every endpoint added later is swept too: a new path
parameter fails the test until it is taught which object of workspace A to aim at.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from automation.models import Alert, AutomationRun, WebhookEndpoint
from automation.rules import rules_for
from bookings.tests.factories import (
    AvailabilityOverrideFactory,
    BookingFactory,
    BookingTypeFactory,
    WorkingHoursFactory,
)
from careops.tenancy import WORKSPACE_HEADER, view_area
from contacts.tests.factories import ContactFactory
from forms.models import FormUpload
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from inventory.tests.factories import InventoryItemFactory
from messaging.tests.factories import (
    ConversationFactory,
    IntegrationFactory,
    MessageFactory,
    MessageTemplateFactory,
)
from workspaces.models import Access, Area
from workspaces.tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@pytest.fixture
def objects_of_a(workspace_a, owner, staff, settings, tmp_path):
    """For each collection in a path (its last one or two segments), the id of one object of
    workspace A."""
    settings.MEDIA_ROOT = tmp_path
    submission_of_a = FormSubmissionFactory(workspace=workspace_a)
    upload_of_a = FormUpload.objects.create(
        workspace=workspace_a,
        submission=submission_of_a,
        field_key="referral",
        file=ContentFile(b"%PDF-1.4 referral", name="referral.pdf"),
        original_name="referral.pdf",
        content_type="application/pdf",
        size=17,
        sha256="0" * 64,
    )
    message_of_a = MessageFactory(
        conversation=ConversationFactory(contact=ContactFactory(workspace=workspace_a)),
        direction="outbound",
        status="failed",
        sender_kind="staff",
    )
    rule_of_a = rules_for(workspace_a)["welcome"]
    return {
        "workspaces": workspace_a.pk,
        "invitations": InvitationFactory(workspace=workspace_a, invited_by=owner).pk,
        "memberships": workspace_a.memberships.get(user=staff).pk,
        "conversations": message_of_a.conversation_id,
        "messages": message_of_a.pk,
        "contacts": ContactFactory(workspace=workspace_a).pk,
        "integrations": IntegrationFactory(workspace=workspace_a).pk,
        "templates": MessageTemplateFactory(workspace=workspace_a).pk,
        "bookings": BookingFactory(workspace=workspace_a).pk,
        "booking-types": BookingTypeFactory(workspace=workspace_a).pk,
        "working-hours": WorkingHoursFactory(workspace=workspace_a).pk,
        "availability-overrides": AvailabilityOverrideFactory(workspace=workspace_a).pk,
        "forms/templates": FormTemplateFactory(workspace=workspace_a).pk,
        "forms/submissions": submission_of_a.pk,
        "files": upload_of_a.pk,
        "inventory": InventoryItemFactory(workspace=workspace_a).pk,
        "automation/rules": rule_of_a.pk,
        "automation/runs": AutomationRun.objects.create(
            workspace=workspace_a, rule=rule_of_a, key="sweep:1", outcome="skipped"
        ).pk,
        "alerts": Alert.objects.create(
            workspace=workspace_a,
            kind=Alert.Kind.STOCK_LOW,
            subject_type="inventory_item",
            subject_id=1,
            message="Gloves are low",
        ).pk,
        "webhooks": WebhookEndpoint.objects.create(
            workspace=workspace_a,
            url="https://hooks.alpha-clinic.example/careops",
            secret="whsec_sweep-0123456789abcdef0123",
            events=["contact.created"],
        ).pk,
    }


def fill(path: str, ids: dict[str, int]) -> str:
    """/api/v1/workspaces/{workspace_pk}/invitations/{id} -> real ids of workspace A."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if re.fullmatch(r"\{\w+\}", segment):
            pair = "/".join(segments[index - 2 : index])
            collection = pair if pair in ids else segments[index - 1]
            assert collection in ids, f"teach the sweep an object of workspace A for {path}"
            segments[index] = str(ids[collection])
    return "/".join(segments)


def call(client, method, url, **kwargs):
    return getattr(client, method)(url, data={}, format="json", **kwargs)


def test_outsider_gets_404_for_every_object_of_another_workspace(outsider_api, objects_of_a):
    swept = 0
    for path, method, _ in operations():
        if "{" not in path:
            continue
        response = call(outsider_api, method, fill(path, objects_of_a))
        assert response.status_code == 404, f"{method.upper()} {path}: {response.status_code}"
        assert response.json()["code"] == "not_found"
        swept += 1
    assert swept >= 8


def test_outsider_naming_another_workspace_in_the_header_gets_404(outsider_api, objects_of_a):
    header = {WORKSPACE_HEADER: str(objects_of_a["workspaces"])}
    scoped = [
        (path, method)
        for path, method, operation in operations()
        if any(p["name"] == WORKSPACE_HEADER for p in operation.get("parameters", []))
    ]
    if not scoped:
        pytest.skip("no endpoint takes its workspace from the header yet (domain apps will)")
    for path, method in scoped:
        response = call(outsider_api, method, fill(path, objects_of_a), headers=header)
        assert response.status_code == 404, f"{method.upper()} {path}: {response.status_code}"


def test_lists_never_show_another_workspaces_data(outsider_api, owner, objects_of_a):
    for path, method, _ in operations():
        if method != "get" or "{" in path or path.startswith("/api/v1/schema"):
            continue
        response = outsider_api.get(path)
        assert response.status_code in (200, 400), f"GET {path}: {response.status_code}"
        # The CSV export streams its body.
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert "Alpha Clinic" not in body.decode()
        assert owner.email not in body.decode()


# Reachable without signing in.
PUBLIC = {
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/schema/",
}
# Public for one method only: the same path answers 401 to the others.
PUBLIC_METHODS = {
    ("/api/v1/contacts", "post"),  # the public contact form
    ("/api/v1/bookings", "post"),  # the public booking page (staff book through it too)
    ("/api/v1/bookings/slots", "get"),  # its free times
    ("/api/v1/bookings/types", "get"),  # its services
    ("/api/v1/forms/submissions", "post"),  # a client submits a form, by its link's token
}

# Public to clients, but a signed-in caller's request is staff work (booking for a client).
STAFF_TOO = {("/api/v1/bookings", "post")}


def test_anonymous_callers_get_401_except_on_public_endpoints(anon_api, objects_of_a):
    for path, method, _ in operations():
        if path in PUBLIC or (path, method) in PUBLIC_METHODS:
            continue
        response = call(anon_api, method, fill(path, objects_of_a))
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"


def owner_only(path: str, method: str) -> bool:
    """What the view declares: its `owner_actions` name the action (or the method), or "*"."""
    view = resolve(path).func
    action = getattr(view, "actions", {}).get(method, method)
    declared = getattr(view.cls, "owner_actions", ())
    return "*" in declared or action in declared


def test_staff_are_refused_every_owner_only_operation(staff_api, objects_of_a):
    swept = 0
    for path, method, _ in operations():
        url = fill(path, objects_of_a)
        if not owner_only(url, method):
            continue
        response = call(staff_api, method, url)
        assert response.status_code == 403, f"{method.upper()} {path}: {response.status_code}"
        assert response.json()["code"] == "permission_denied"
        swept += 1
    assert swept >= 20, swept


def test_owners_are_not_refused_their_owner_only_operations(owner_api, objects_of_a):
    """The other side of the staff sweep (a 403 for everyone would pass it)."""
    for path, method, _ in operations():
        url = fill(path, objects_of_a)
        if owner_only(url, method):
            response = call(owner_api, method, url)
            assert response.status_code != 403, f"{method.upper()} {path}: {response.json()}"


# --- Areas: what an owner opens to each staff member ------------------------------------------


def area_operations(objects_of_a):
    """(url, method, area) of every operation of an area that staff may reach at all."""
    for path, method, _ in operations():
        if (path, method) in PUBLIC_METHODS - STAFF_TOO:
            continue  # what clients call, signed in or not: no area's rules apply
        url = fill(path, objects_of_a)
        area = view_area(resolve(url).func.cls)
        if area is not None and not owner_only(url, method):
            yield url, method, area


def set_access(staff, workspace, levels: dict[str, str]) -> None:
    membership = workspace.memberships.get(user=staff)
    membership.set_area_access(levels)
    membership.save()


@pytest.mark.parametrize("closed", Area.values)
def test_staff_without_an_area_get_403_on_its_api_and_only_its(
    staff_api, staff, workspace_a, objects_of_a, closed
):
    set_access(staff, workspace_a, dict.fromkeys(Area.values, Access.ACT) | {closed: Access.NONE})
    refused = 0
    for url, method, area in area_operations(objects_of_a):
        response = call(staff_api, method, url)
        where = f"{method.upper()} {url}: {response.status_code}"
        if area == closed:
            assert response.status_code == 403, where
            assert response.json()["code"] == "permission_denied"
            refused += 1
        else:
            assert response.status_code != 403, where
    assert refused >= 3, refused


def test_staff_who_may_only_view_get_403_on_every_change(
    staff_api, staff, workspace_a, objects_of_a
):
    set_access(staff, workspace_a, dict.fromkeys(Area.values, Access.VIEW))
    reads = changes = 0
    for url, method, _area in area_operations(objects_of_a):
        response = call(staff_api, method, url)
        where = f"{method.upper()} {url}: {response.status_code}"
        if method == "get":
            assert response.status_code != 403, where
            reads += 1
        else:
            assert response.status_code == 403, where
            assert "not make changes" in response.json()["message"]
            changes += 1
    assert reads >= 15, reads
    assert changes >= 12, changes


def test_owners_act_in_every_area_whatever_their_columns_say(
    owner_api, owner, workspace_a, objects_of_a
):
    set_access(owner, workspace_a, dict.fromkeys(Area.values, Access.NONE))
    for url, method, _area in area_operations(objects_of_a):
        response = call(owner_api, method, url)
        assert response.status_code != 403, f"{method.upper()} {url}: {response.json()}"
