"""The Support group and its permissions (see careops.support)."""

from django.db import migrations


def create_support_group(apps, schema_editor):
    from careops.support import permissions_create, support_group_sync

    permissions_create(apps)
    support_group_sync(apps)


def remove_support_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Support").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("axes", "__first__"),
        ("django_celery_beat", "__first__"),
        ("careops", "0001_initial"),
        ("workspaces", "0002_workspace_deactivation"),
        ("contacts", "0001_initial"),
        ("messaging", "0003_message_workspace_period_index"),
        ("bookings", "0002_no_overlap"),
        ("forms", "0002_submission_open_due_index"),
        ("inventory", "0001_initial"),
        ("automation", "0003_rule_replan_request"),
    ]

    operations = [migrations.RunPython(create_support_group, remove_support_group)]
