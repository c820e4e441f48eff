"""Row-level security on the inbox notices (careops.rls explains the scheme; careops 0003 made
the functions the policies call)."""

from django.db import migrations

from careops import rls

TABLES = ("messaging_inboxnotice",)


def enable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(rls.policy_sql(table))


def disable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(rls.drop_policy_sql(table))


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0008_inbox_notice"),
        ("careops", "0003_row_level_security"),
    ]

    operations = [migrations.RunPython(enable, disable, elidable=False)]
