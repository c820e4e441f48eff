"""manage.py workspace_export and workspace_delete, on two full workspaces (tests/full_data.py):
A's export holds all of A and nothing of B, with no secret in clear; deleting A leaves no row
of A and every row of B (and every user) where it was."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timedelta

import factory
import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test.utils import isolate_apps
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from careops.workspace_data import (
    delete_order,
    secret_fields,
    uncovered_relations,
    workspace_delete,
    workspace_tables,
)
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from forms.models import FormUpload
from tests.full_data import REFERRAL_PDF, full_workspace
from workspaces.models import User, Workspace

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def a(media):
    full = full_workspace(name="Alpha Clinic", slug="alpha-clinic")
    # What a spreadsheet would run: a contact's name and a booking's notes.
    ContactFactory(workspace=full.workspace, name=FORMULA, email="formula@example.org")
    Booking.objects.filter(pk=full.booking.pk).update(notes="+44 call first; @reception")
    return full


@pytest.fixture
def b(media):
    return full_workspace(name="Bravo Salon", slug="bravo-salon")


def counts_of(workspace) -> dict[str, int]:
    return {t.label: t.rows(workspace).count() for t in workspace_tables()}


def every_table_count() -> dict[str, int]:
    """Rows in every table of the database, users and many-to-many tables included."""
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def export(workspace, path, *args) -> tuple[zipfile.ZipFile, str]:
    out = io.StringIO()
    call_command(
        "workspace_export",
        "--workspace",
        workspace.slug,
        "--output",
        str(path),
        *args,
        stdout=out,
        stderr=io.StringIO(),
    )
    return zipfile.ZipFile(path), out.getvalue()


def members_text(zf: zipfile.ZipFile) -> dict[str, str]:
    return {name: zf.read(name).decode("utf-8", "replace") for name in zf.namelist()}


def read_csv(zf: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(zf.read(name).decode("utf-8-sig"))))


# --- What a workspace is made of ---------------------------------------------------------------


def test_the_full_workspace_builder_fills_every_workspace_table(a):
    empty = [label for label, rows in counts_of(a.workspace).items() if not rows]

    assert empty == [], f"tests/full_data.py makes no row of {empty}: teach it to"


def test_every_relation_into_workspace_rows_is_covered():
    assert uncovered_relations() == []


def test_workspace_tables_include_the_many_to_many_tables():
    labels = {t.label for t in workspace_tables()}

    assert {"contacts.contact_tags", "bookings.bookingtype_staff"} <= labels
    assert "forms.formtemplate_booking_types" in labels
    assert "workspaces.user" not in labels


@isolate_apps("tests")
def test_a_model_added_later_is_found_or_reported():
    class Label(models.Model):
        workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)

        class Meta:
            app_label = "tests"

        def __str__(self) -> str:
            return str(self.pk)

    class Note(models.Model):
        """Owned the right way: found, with the table of its labels."""

        workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
        labels = models.ManyToManyField(Label)

        class Meta:
            app_label = "tests"

        def __str__(self) -> str:
            return str(self.pk)

    class Scribble(models.Model):
        """Points at a contact without a workspace key of its own: reported."""

        contact = models.ForeignKey(Contact, on_delete=models.CASCADE)

        class Meta:
            app_label = "tests"

        def __str__(self) -> str:
            return str(self.pk)

    registry = Note._meta.apps
    found = workspace_tables(registry=registry)

    assert {t.label for t in found} >= {"tests.label", "tests.note", "tests.note_labels"}
    assert uncovered_relations(workspace_tables() + found, registry=registry) == [
        "tests.Scribble.contact -> contacts.Contact"
    ]


def test_the_delete_order_removes_rows_before_what_they_point_at():
    position = {t.label: i for i, t in enumerate(delete_order())}

    assert position["bookings.booking"] < position["contacts.contact"]
    assert position["bookings.booking"] < position["bookings.bookingtype"]
    assert position["forms.formsubmission"] < position["forms.formtemplate"]
    assert position["forms.formupload"] < position["forms.formsubmission"]
    assert position["contacts.contact_tags"] < position["contacts.tag"]
    assert max(position.values()) == position["workspaces.workspace"]


# --- Export ------------------------------------------------------------------------------------


def test_export_has_every_table_with_its_rows_and_a_manifest(a, b, tmp_path):
    zf, output = export(a.workspace, tmp_path / "a.zip")

    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["workspace"] == {
        "id": a.workspace.pk,
        "slug": "alpha-clinic",
        "name": "Alpha Clinic",
    }
    assert manifest["exported_at"]
    listed = {entry["table"]: entry["rows"] for entry in manifest["tables"]}
    for table in workspace_tables():
        rows = json.loads(zf.read(f"data/{table.label}.json"))
        expected = set(table.rows(a.workspace).values_list("pk", flat=True))
        assert {row["id"] for row in rows} == expected, table.label
        assert listed[table.label] == len(expected) > 0
    assert {"README.txt", "contacts.csv", "bookings.csv", "members.csv"} <= set(zf.namelist())
    assert "Alpha Clinic" in zf.read("README.txt").decode()
    assert f"{sum(listed.values()):,} rows in {len(listed)} tables, 1 files" in output


def test_export_rows_are_plain_json_objects(a, tmp_path):
    zf, _ = export(a.workspace, tmp_path / "a.zip")

    bookings = {row["id"]: row for row in json.loads(zf.read("data/bookings.booking.json"))}
    row = bookings[a.booking.pk]
    assert row["contact_id"] == a.contact.pk
    assert row["status"] == "confirmed"
    assert row["start"].startswith(a.booking.start.isoformat()[:16])
    submission = json.loads(zf.read("data/forms.formsubmission.json"))
    assert any(s["answers"].get("areas") == ["Back"] for s in submission)


def test_export_holds_nothing_of_another_workspace(a, b, tmp_path):
    zf, _ = export(a.workspace, tmp_path / "a.zip")

    everything = "\n".join(members_text(zf).values())
    for text in (
        b.workspace.slug,
        b.workspace.name,
        b.owner.email,
        b.staff.email,
        *(contact.email for contact in b.contacts),
        b.upload.file.name,
        *b.secrets.values(),
    ):
        assert text not in everything
    for table in workspace_tables():
        rows = json.loads(zf.read(f"data/{table.label}.json"))
        if table.workspace_lookup == "workspace":
            assert {row["workspace_id"] for row in rows} == {a.workspace.pk}, table.label


def test_export_never_holds_a_secret_in_clear(a, b, tmp_path):
    path = tmp_path / "a.zip"
    zf, _ = export(a.workspace, path)

    raw = path.read_bytes()
    everything = "\n".join(members_text(zf).values())
    for name, secret in a.secrets.items():
        assert secret not in everything, name
        assert secret.encode() not in raw, name
    integrations = json.loads(zf.read("data/messaging.integration.json"))
    resend = next(i for i in integrations if i["provider"] == "resend")
    assert resend["credentials"] == {"api_key": "••••••••" + a.secrets["resend_api_key"][-4:]}
    assert all(i["webhook_key"].startswith("••••••••") for i in integrations)
    assert a.owner.password not in everything
    assert "pbkdf2" not in everything
    assert not any(name.startswith("data/workspaces.user") for name in zf.namelist())


def test_the_masked_fields_are_the_secrets_of_the_data_model():
    assert secret_fields() == [
        "automation.webhookendpoint.secret",
        "bookings.booking.idempotency_key",
        "bookings.booking.manage_nonce",
        "bookings.calendarfeed.token",
        "forms.formsubmission.token_nonce",
        "messaging.integration.credentials",
        "messaging.integration.webhook_key",
    ]


def test_export_lists_members_by_email_name_and_role(a, tmp_path):
    zf, _ = export(a.workspace, tmp_path / "a.zip")

    rows = read_csv(zf, "members.csv")
    assert rows[0] == ["user_id", "email", "name", "role", "member_since"]
    assert {(r[1], r[3]) for r in rows[1:]} == {(a.owner.email, "owner"), (a.staff.email, "staff")}


def test_export_spreadsheets_escape_formulas(a, tmp_path):
    zf, _ = export(a.workspace, tmp_path / "a.zip")

    contacts = read_csv(zf, "contacts.csv")
    assert contacts[0][:3] == ["id", "name", "email"]
    assert len(contacts) - 1 == Contact.objects.for_workspace(a.workspace).count()
    assert [r[1] for r in contacts if "HYPERLINK" in r[1]] == ["'" + FORMULA]
    bookings = read_csv(zf, "bookings.csv")
    assert bookings[0][1] == "start (Europe/London)"
    assert len(bookings) - 1 == 3
    row = next(r for r in bookings if r[0] == str(a.booking.pk))
    assert row[11] == "'+44 call first; @reception"
    assert row[9] == a.staff.email


def test_export_includes_the_uploaded_files(a, b, tmp_path):
    zf, _ = export(a.workspace, tmp_path / "a.zip")

    assert zf.read(f"files/{a.upload.file.name}") == REFERRAL_PDF
    assert [n for n in zf.namelist() if n.startswith("files/")] == [f"files/{a.upload.file.name}"]
    assert json.loads(zf.read("manifest.json"))["files"]["count"] == 1


def test_export_notes_a_file_missing_from_storage(a, tmp_path):
    a.upload.file.storage.delete(a.upload.file.name)

    zf, _ = export(a.workspace, tmp_path / "a.zip")

    assert json.loads(zf.read("manifest.json"))["files"]["missing"] == [a.upload.file.name]


def test_export_shows_progress_on_stderr(a, tmp_path):
    err = io.StringIO()
    path = tmp_path / "a.zip"

    call_command(
        "workspace_export",
        "--workspace",
        a.workspace.slug,
        "--output",
        str(path),
        stdout=io.StringIO(),
        stderr=err,
    )

    total = sum(counts_of(a.workspace).values()) + 1
    assert err.getvalue().endswith(f"[{'#' * 30}] {total:,}/{total:,} rows\n")


def test_export_refuses_to_overwrite_without_force(a, tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(b"keep me")

    with pytest.raises(CommandError, match=r"already exists: .*--force") as raised:
        export(a.workspace, path)

    assert raised.value.returncode == 1
    assert path.read_bytes() == b"keep me"
    export(a.workspace, path, "--force")
    assert "manifest.json" in zipfile.ZipFile(path).namelist()


@pytest.mark.parametrize("where", ["no-such-folder/a.zip", "."])
def test_export_to_a_path_it_cannot_write_fails_clearly(a, tmp_path, where):
    with pytest.raises(CommandError, match="Cannot write"):
        export(a.workspace, tmp_path / where)

    assert [p.name for p in tmp_path.iterdir()] == ["media"]


def test_a_failed_export_leaves_no_half_zip(a, tmp_path, monkeypatch):
    def broken(workspace):
        yield ["id"]
        raise RuntimeError("database went away")

    monkeypatch.setattr("careops.workspace_data.export.bookings_csv_rows", broken)

    with pytest.raises(RuntimeError):
        export(a.workspace, tmp_path / "a.zip")

    assert [p.name for p in tmp_path.iterdir()] == ["media"]


def test_export_of_an_unknown_workspace_exits_with_a_clear_message(tmp_path):
    with pytest.raises(CommandError, match='No workspace has the slug or id "nope"') as raised:
        call_command("workspace_export", "--workspace", "nope", "--output", str(tmp_path / "x.zip"))

    assert raised.value.returncode == 1


# --- Delete ------------------------------------------------------------------------------------


def delete(workspace, *args, **kwargs) -> str:
    out = io.StringIO()
    call_command(
        "workspace_delete",
        "--workspace",
        workspace.slug,
        *args,
        stdout=out,
        stderr=io.StringIO(),
        **kwargs,
    )
    return out.getvalue()


def test_delete_removes_every_row_of_the_workspace_and_nothing_else(
    a, b, django_capture_on_commit_callbacks
):
    a_before, b_before, all_before = (
        counts_of(a.workspace),
        counts_of(b.workspace),
        every_table_count(),
    )

    with django_capture_on_commit_callbacks(execute=True):
        output = delete(a.workspace, "--yes")

    assert all(rows == 0 for rows in counts_of(a.workspace).values())
    assert counts_of(b.workspace) == b_before
    workspace_labels = {t.model._meta.label for t in workspace_tables()}
    expected = {
        label: rows - (a_before[label.lower()] if label in workspace_labels else 0)
        for label, rows in all_before.items()
    }
    assert every_table_count() == expected
    assert User.objects.filter(pk__in=[a.owner.pk, a.staff.pk]).count() == 2
    connection.check_constraints()  # no row left pointing at a deleted one
    assert f"{sum(a_before.values()):,} rows in {len(a_before)} tables" in output
    assert "User accounts were kept" in output


def test_delete_removes_the_workspace_files_after_commit_and_keeps_the_others(
    a, b, django_capture_on_commit_callbacks
):
    storage = FormUpload._meta.get_field("file").storage

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delete(a.workspace, "--yes")
    assert storage.exists(a.upload.file.name)  # not before the commit
    for callback in callbacks:
        callback()

    assert not storage.exists(a.upload.file.name)
    assert storage.exists(b.upload.file.name)


def test_delete_records_no_automation_event_for_what_it_removes(a, b):
    events_before = counts_of(b.workspace)["automation.event"]

    delete(a.workspace, "--yes")

    assert counts_of(b.workspace)["automation.event"] == events_before
    assert not Workspace.objects.filter(pk=a.workspace.pk).exists()


def test_delete_takes_a_fixed_number_of_statements_whatever_the_size(
    a, django_assert_max_num_queries
):
    start = timezone.now() + timedelta(days=400)
    BookingFactory.create_batch(
        300,
        workspace=a.workspace,
        booking_type=a.booking_types[1],
        contact=a.contact,
        # Two hours apart on the shared calendar: never an overlap.
        start=factory.Sequence(lambda n: start + timedelta(hours=2 * n)),
    )
    tables = len(delete_order())

    # 1 lock on the workspace row, 1 read of the stored file names, one DELETE per table, and
    # the savepoint around it (taken and released).
    with django_assert_max_num_queries(tables + 4):
        workspace_delete(workspace=a.workspace)

    assert not Booking.objects.filter(workspace=a.workspace).exists()


def test_a_failed_delete_deletes_nothing(a, django_capture_on_commit_callbacks):
    before = counts_of(a.workspace)

    def fail_halfway(done, total):
        if done == total // 2:
            raise RuntimeError("connection lost")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        workspace_delete(workspace=a.workspace, progress=fail_halfway)

    assert counts_of(a.workspace) == before
    assert callbacks == []


class Terminal(io.StringIO):
    """What someone types at the prompt."""

    def isatty(self) -> bool:
        return True


def test_delete_asks_for_the_slug_and_deletes_when_it_is_typed(a, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal("alpha-clinic\n"))
    err = io.StringIO()

    call_command(
        "workspace_delete", "--workspace", "alpha-clinic", stdout=io.StringIO(), stderr=err
    )

    assert "Type its slug (alpha-clinic) to confirm" in err.getvalue()
    assert not Workspace.objects.filter(slug="alpha-clinic").exists()


@pytest.mark.parametrize("typed", ["alpha\n", "\n", ""])
def test_delete_with_the_wrong_slug_typed_deletes_nothing(a, monkeypatch, typed):
    before = counts_of(a.workspace)
    monkeypatch.setattr("sys.stdin", Terminal(typed))

    with pytest.raises(CommandError, match="nothing was deleted") as raised:
        delete(a.workspace)

    assert raised.value.returncode == 1
    assert counts_of(a.workspace) == before


def test_delete_without_a_terminal_and_without_yes_refuses(a, monkeypatch):
    before = counts_of(a.workspace)
    monkeypatch.setattr("sys.stdin", io.StringIO("alpha-clinic\n"))

    with pytest.raises(CommandError, match=r"without confirmation: .* or pass --yes"):
        delete(a.workspace)

    assert counts_of(a.workspace) == before


def test_delete_dry_run_shows_the_rows_and_deletes_nothing(a):
    before = counts_of(a.workspace)

    output = delete(a.workspace, "--dry-run", "--yes")

    assert counts_of(a.workspace) == before
    assert "Dry run: nothing was deleted." in output
    assert re.search(rf"\n  bookings\.booking +{before['bookings.booking']}\n", output)


def test_delete_of_an_unknown_workspace_exits_with_a_clear_message():
    with pytest.raises(CommandError, match='No workspace has the slug or id "404"') as raised:
        call_command("workspace_delete", "--workspace", "404", "--yes")

    assert raised.value.returncode == 1


def test_delete_shows_progress_per_table(a):
    err = io.StringIO()

    call_command(
        "workspace_delete", "--workspace", "alpha-clinic", "--yes", stdout=io.StringIO(), stderr=err
    )

    tables = len(delete_order())
    assert err.getvalue().endswith(f"] {tables}/{tables} tables\n")


# --- Help --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("workspace_export", ["--output FILE.zip", "--force", "masked", "never with passwords"]),
        ("workspace_delete", ["--yes", "--dry-run", "User accounts are kept", "type the"]),
    ],
)
def test_help_explains_the_command(command, says, capsys):
    with pytest.raises(SystemExit) as exited:
        call_command(command, "--help")

    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in says:
        assert words in text
