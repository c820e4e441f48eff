"""Writes of form templates: create, update (the version and the sent snapshots), archive."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from structlog.testing import capture_logs

from bookings.tests.factories import BookingTypeFactory
from careops.errors import Conflict, InvalidInput
from forms.services import template_archive, template_create, template_update
from forms.services import templates as template_services
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory

pytestmark = pytest.mark.django_db

NOTES = {"type": "long_text", "label": "Notes"}


def refused(call, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        call(**kwargs)
    return caught.value.fields


def test_a_template_is_created_with_clean_fields_and_its_services(workspace_a, owner):
    kind = BookingTypeFactory(workspace=workspace_a)

    with capture_logs() as logs:
        template = template_create(
            workspace=workspace_a,
            actor=owner,
            name="  Intake  ",
            fields=[NOTES],
            booking_type_ids=[kind.pk, kind.pk],
        )

    template.refresh_from_db()
    assert (template.name, template.version, template.is_active) == ("Intake", 1, True)
    assert template.fields == [
        {
            "key": "notes",
            "type": "long_text",
            "label": "Notes",
            "help_text": "",
            "required": False,
            "choices": [],
            "maps_to": "",
        }
    ]
    assert list(template.booking_types.all()) == [kind]
    assert [(e["event"], e["actor_id"]) for e in logs] == [("form_template_created", owner.pk)]


def test_every_bad_argument_is_named_at_once(workspace_a, owner, workspace_b):
    theirs = BookingTypeFactory(workspace=workspace_b)

    errors = refused(
        template_create,
        workspace=workspace_a,
        actor=owner,
        name="",
        due_hours=0,
        fields=[{"type": "colour", "label": "x"}],
        booking_type_ids=[theirs.pk],
    )

    assert set(errors) == {"name", "due_hours", "fields.0.type", "booking_type_ids"}


def test_a_name_taken_in_a_race_is_refused_on_the_name(workspace_a, owner, monkeypatch):
    taken = FormTemplateFactory(workspace=workspace_a, name="Intake")
    # The check runs as if `taken` were the template being saved: only the constraint is left.
    real_clean = template_services._clean
    monkeypatch.setattr(
        template_services, "_clean", lambda **kw: real_clean(**{**kw, "exclude_pk": taken.pk})
    )

    errors = refused(template_create, workspace=workspace_a, actor=owner, name="INTAKE")

    assert errors == {"name": ["Another form has this name."]}


def test_changing_the_fields_bumps_the_version_once_per_change(workspace_a, owner):
    template = FormTemplateFactory(workspace=workspace_a)

    template_update(template=template, actor=owner, fields=[*template.fields, NOTES])
    template_update(template=template, actor=owner, fields=template.fields)  # the same again
    template_update(template=template, actor=owner, name="Renamed")

    template.refresh_from_db()
    assert (template.version, template.name) == (2, "Renamed")


def test_editing_a_template_keeps_sent_snapshots(workspace_a, owner):
    template = FormTemplateFactory(workspace=workspace_a)
    sent = FormSubmissionFactory(workspace=workspace_a, template=template)
    snapshot = [dict(f) for f in sent.fields]

    template_update(template=template, actor=owner, name="Intake v2", fields=[NOTES])

    sent.refresh_from_db()
    assert (sent.fields, sent.template_version) == (snapshot, 1)
    assert sent.template_name != "Intake v2"


def test_an_update_from_a_stale_instance_bumps_from_the_stored_version(workspace_a, owner):
    template = FormTemplateFactory(workspace=workspace_a)
    stale = type(template).objects.get(pk=template.pk)
    template_update(template=template, actor=owner, fields=[NOTES])

    template_update(template=stale, actor=owner, fields=[])

    stale.refresh_from_db()
    assert stale.version == 3


def test_booking_types_of_another_workspace_are_refused(workspace_a, workspace_b, owner):
    template = FormTemplateFactory(workspace=workspace_a)
    ours, theirs = (
        BookingTypeFactory(workspace=workspace_a),
        BookingTypeFactory(workspace=workspace_b),
    )

    errors = refused(
        template_update, template=template, actor=owner, booking_type_ids=[ours.pk, theirs.pk]
    )

    assert errors == {"booking_type_ids": [f"Not a service of this workspace: {theirs.pk}."]}
    assert not template.booking_types.exists()


def test_leaving_out_booking_types_keeps_them(workspace_a, owner):
    kind = BookingTypeFactory(workspace=workspace_a)
    template = FormTemplateFactory(workspace=workspace_a, booking_types=[kind])

    template_update(template=template, actor=owner, due_hours=12)

    assert list(template.booking_types.all()) == [kind]


def test_unknown_changes_are_a_programming_error(workspace_a, owner):
    template = FormTemplateFactory(workspace=workspace_a)

    with pytest.raises(TypeError):
        template_update(template=template, actor=owner, version=9)


def test_archiving_is_idempotent_and_keeps_the_first_time(workspace_a, owner):
    template = FormTemplateFactory(workspace=workspace_a)
    FormSubmissionFactory(workspace=workspace_a, template=template)

    with time_machine.travel(datetime(2030, 5, 1, 9, 0, tzinfo=UTC), tick=False):
        template_archive(template=template, actor=owner)
    with (
        time_machine.travel(datetime(2030, 5, 2, 9, 0, tzinfo=UTC), tick=False),
        capture_logs() as logs,
    ):
        again = template_archive(template=type(template).objects.get(pk=template.pk), actor=owner)

    template.refresh_from_db()
    assert template.archived_at == datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    assert not template.is_active
    assert again.archived_at == template.archived_at
    assert logs == []
    assert template.submissions.count() == 1


def test_an_archived_template_cannot_be_changed(workspace_a, owner):
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")
    template_archive(template=template, actor=owner)

    with pytest.raises(Conflict):
        template_update(template=template, actor=owner, name="Back again")


def test_an_archived_templates_name_is_free_again(workspace_a, owner):
    old = FormTemplateFactory(workspace=workspace_a, name="Intake")
    template_archive(template=old, actor=owner)

    new = template_create(workspace=workspace_a, actor=owner, name="intake")

    assert new.pk != old.pk
