"""The Support group: what a support person (Django staff, not a superuser) may see and do in
the admin. One table, applied by a migration (careops 0002) and again after every `migrate`
(and every flush), so that a model added later is visible to support without anyone
remembering to grant it.

Support sees every row of the product and acts through the admin's actions (retry a failed
message, dispatch an event again, acknowledge an alert, cancel a booking, deactivate a
workspace, export rows as CSV). Support adds and deletes nothing, and never edits accounts,
groups or integrations: those stay with superusers (enforced again by their ModelAdmins, so a
stray permission cannot open them).
"""

from __future__ import annotations

SUPPORT_GROUP = "Support"

# Every model of these apps can be viewed.
VIEW_APPS = (
    "careops",
    "workspaces",
    "contacts",
    "messaging",
    "bookings",
    "forms",
    "inventory",
    "automation",
)
# Beyond viewing: (app_label, codename). Changes go through the ModelAdmins, whose forms call
# the services (and leave times, statuses and secrets read-only).
EXTRA_PERMISSIONS = (
    ("admin", "view_logentry"),  # the audit trail
    ("axes", "view_accessattempt"),  # who is locked out, and from where
    ("axes", "delete_accessattempt"),  # unlock an account
    ("django_celery_beat", "view_periodictask"),
    ("workspaces", "change_workspace"),  # business details; deactivate / reactivate
    ("contacts", "change_contact"),  # correct and merge
    ("contacts", "change_tag"),
    ("messaging", "change_conversation"),
    ("messaging", "change_message"),  # retry failed
    ("messaging", "change_messagetemplate"),
    ("bookings", "change_booking"),  # cancel
    ("bookings", "change_calendarfeed"),  # revoke
    ("forms", "change_formtemplate"),
    ("inventory", "change_inventoryitem"),
    ("automation", "change_event"),  # dispatch again
    ("automation", "change_alert"),  # acknowledge
    ("automation", "change_rule"),  # switch on or off
)


def support_permission_keys(apps) -> set[tuple[str, str]]:
    """(app_label, codename) of every permission the group holds, for the given app registry
    (the historical one in a migration)."""
    keys = set(EXTRA_PERMISSIONS)
    for label in VIEW_APPS:
        for model in apps.get_app_config(label).get_models():
            keys.add((label, f"view_{model._meta.model_name}"))
    return keys


def permissions_create(apps) -> None:
    """Create every model's permissions now, in a migration: Django makes them in a post_migrate
    handler, after all migrations, so a fresh database reaches careops 0002 before they exist.
    (A migration's app configs are stubs without a models module, which create_permissions
    would skip.)"""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def support_group_sync(apps) -> None:
    """Create the group if absent and give it exactly the table's permissions (which exist)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    keys = support_permission_keys(apps)
    permissions = [
        permission
        for permission in permission_model.objects.select_related("content_type")
        if (permission.content_type.app_label, permission.codename) in keys
    ]
    group, _ = group_model.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(permissions)
