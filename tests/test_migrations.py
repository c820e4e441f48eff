"""The models and the migrations agree: a model change without its migration fails here."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_the_support_group_migration_builds_the_group_from_the_historical_models():
    """What a fresh database gets from careops 0002 itself (post_migrate re-syncs it later)."""
    from importlib import import_module

    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = import_module("careops.migrations.0002_support_group")
    state = MigrationExecutor(connection).loader.project_state(("careops", "0002_support_group"))
    Group.objects.filter(name="Support").delete()

    migration.create_support_group(state.apps, None)

    codenames = set(
        Group.objects.get(name="Support").permissions.values_list("codename", flat=True)
    )
    assert {"view_booking", "view_contact", "change_message", "view_logentry"} <= codenames
    assert "change_integration" not in codenames
