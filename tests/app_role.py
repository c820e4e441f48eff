"""Run a test's queries as the application's PostgreSQL role (`manage.py db_app_role`), which
row-level security binds, inside the test's transaction: everything is undone with it."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.db import connection
from psycopg import sql

from careops import rls


def app_role_name() -> str:
    # Roles are shared by the whole cluster: one per test database keeps parallel runs apart.
    return f"{connection.settings_dict['NAME']}_app"[:63]


def become_app_role() -> str:
    """Make the role (as the owner) and switch this transaction to it, with the role's default
    scope (a login would apply it; SET ROLE does not). Returns the role's name."""
    name = app_role_name()
    call_command("db_app_role", name, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(name)))
        cursor.execute("SELECT set_config(%s, %s, false)", [rls.SETTING, rls.ALL])
    return name


def current_role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]
