"""Row-level security on every workspace-owned table (careops.rls explains the scheme).

The policies bind roles that are neither the tables' owner nor BYPASSRLS: the application's
role (`manage.py db_app_role`). This migration, like every other, runs as the owner."""

from django.db import migrations

from careops import rls


def _tables(apps):
    return rls.protected_tables(apps.get_models())


def enable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(rls.FUNCTIONS_SQL)
    for table, column, parent in _tables(apps):
        sql = rls.policy_sql(table) if parent is None else rls.link_policy_sql(table, column, parent)
        schema_editor.execute(sql)


def disable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _column, _parent in _tables(apps):
        schema_editor.execute(rls.drop_policy_sql(table))


class Migration(migrations.Migration):
    dependencies = [
        ("careops", "0002_support_group"),
        ("workspaces", "0002_workspace_deactivation"),
        ("contacts", "0002_contact_search_trigram"),
        ("messaging", "0005_message_failed_outbound_index"),
        ("bookings", "0003_booking_active_start_index"),
        ("forms", "0003_submission_link_issued_at"),
        ("inventory", "0001_initial"),
        ("automation", "0003_rule_replan_request"),
    ]

    operations = [migrations.RunPython(enable, disable, elidable=False)]
