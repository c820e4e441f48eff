"""No double booking, proven by PostgreSQL: an exclusion constraint over each calendar's active
bookings (buffers included). SQLite has no such constraint; there the booking services' check
and insert run in one immediate-mode (write-locked) transaction."""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CONSTRAINT = "bookings_booking_no_overlap"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        ALTER TABLE bookings_booking ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist (
            workspace_id WITH =,
            (COALESCE(staff_id, 0)) WITH =,
            tstzrange(blocked_start, blocked_end, '[)') WITH &&
        ) WHERE (status IN ('pending', 'confirmed'))
        """
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE bookings_booking DROP CONSTRAINT {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(add_constraint, drop_constraint),
    ]
