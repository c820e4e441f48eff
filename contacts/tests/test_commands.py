"""manage.py import_contacts and export_contacts."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from contacts import csv_import
from contacts.models import Contact
from contacts.tests.factories import ContactFactory, TagFactory

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_contacts_prints_the_report(workspace_a, tmp_path):
    ContactFactory(workspace=workspace_a, email="ada@example.org")
    path = tmp_path / "clients.csv"
    path.write_text("name,email\nAda,ada@example.org\nGrace,grace@example.org\n,nope\n")

    out, err = run("import_contacts", "--workspace", "alpha-clinic", str(path))

    assert out == (
        '3 rows: 1 created, 1 updated, 1 rejected.\n  row 4: "nope" is not a valid email address.\n'
    )
    assert err.endswith("2/2 rows\n")
    assert Contact.objects.for_workspace(workspace_a).count() == 2


def test_import_contacts_shows_a_progress_bar_for_long_files(workspace_a, tmp_path, monkeypatch):
    monkeypatch.setattr(csv_import.writing, "PROGRESS_EVERY", 2)
    path = tmp_path / "clients.csv"
    path.write_text("email\n" + "".join(f"c{n}@example.org\n" for n in range(4)))

    _, err = run("import_contacts", "--workspace", "alpha-clinic", str(path))

    assert err == ("\r[" + "#" * 15 + "." * 15 + "] 2/4 rows\r[" + "#" * 30 + "] 4/4 rows\n")


def test_import_contacts_refuses_an_unreadable_file_and_stores_nothing(workspace_a, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes("name,email\nZo\u00eb,zoe@example.org\n".encode("latin-1"))

    with pytest.raises(CommandError, match="not UTF-8"):
        run("import_contacts", "--workspace", "alpha-clinic", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_contacts", "--workspace", "alpha-clinic", str(tmp_path / "missing.csv"))

    assert not Contact.objects.exists()


def test_import_and_export_refuse_an_unknown_workspace(db, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_text("email\nada@example.org\n")

    with pytest.raises(CommandError, match='No workspace has the slug or id "nowhere"'):
        run("import_contacts", "--workspace", "nowhere", str(path))
    with pytest.raises(CommandError, match='No workspace has the slug or id "nowhere"'):
        run("export_contacts", "--workspace", "nowhere")


def test_export_contacts_writes_the_filtered_csv_to_stdout(workspace_a, workspace_b):
    vip = TagFactory(workspace=workspace_a, name="VIP")
    ContactFactory(workspace=workspace_a, name="Ada", email="ada@example.org").tags.add(vip)
    ContactFactory(workspace=workspace_a, name="Grace")
    ContactFactory(workspace=workspace_b, name="Other").tags.add(
        TagFactory(workspace=workspace_b, name="VIP")
    )

    out, _ = run("export_contacts", "--workspace", "alpha-clinic", "--tag", "vip")

    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["name"], row["email"], row["tags"]) for row in rows] == [
        ("Ada", "ada@example.org", "VIP")
    ]


def test_export_contacts_writes_a_file(workspace_a, tmp_path):
    ContactFactory(workspace=workspace_a, name="=cmd|' /C calc'!A0", source="import")
    ContactFactory(workspace=workspace_a, name="Grace", source="manual")
    path = tmp_path / "out.csv"

    _, err = run(
        "export_contacts",
        "--workspace",
        "alpha-clinic",
        "--source",
        "import",
        "--output",
        str(path),
    )

    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert [row["name"] for row in rows] == ["'=cmd|' /C calc'!A0"]
    assert err == f"1 contact written to {path}.\n"


def test_export_contacts_refuses_an_unknown_source(workspace_a):
    with pytest.raises(CommandError, match="Choose one of"):
        run("export_contacts", "--workspace", "alpha-clinic", "--source", "pigeon")
