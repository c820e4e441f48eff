"""manage.py db_app_role [NAME] [--password-env VAR] — the PostgreSQL role the application
connects as: it can read and write every table but cannot bypass row-level security
(careops.rls), and its default scope is all workspaces ('*') until a request narrows it.

Run it as the tables' owner (the role `migrate` runs as), after `migrate`: it is idempotent,
and grants the tables and sequences that later migrations add too (default privileges).
The role runs without JIT compilation (careops.settings says why).
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

from careops import rls


class Command(BaseCommand):
    help = (
        "Create or update the PostgreSQL role the application connects as (set DATABASE_RLS=true "
        "for it): LOGIN, no superuser, no BYPASSRLS, read and write on every table, and the "
        "all-workspaces scope as its default setting. Run as the tables' owner after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", default="careops_app", help="The role's name.")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="Set the role's password from this environment variable (kept out of shell "
            "history and process lists).",
        )

    def handle(self, *args, name: str, password_env: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Row-level security needs PostgreSQL.")
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"The environment variable {password_env} is empty or unset.")
        role = sql.Identifier(name)
        database = sql.Identifier(connection.settings_dict["NAME"])
        statements = [
            sql.SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) "
                "THEN CREATE ROLE {role}; END IF; END $$"
            ).format(name=sql.Literal(name), role=role),
            sql.SQL(
                "ALTER ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
            ).format(role=role),
            sql.SQL("ALTER ROLE {role} SET {setting} = {all}").format(
                role=role, setting=sql.Identifier(*rls.SETTING.split(".")), all=sql.Literal(rls.ALL)
            ),
            # As careops.settings sends with each direct connection (a pooler may refuse it).
            sql.SQL("ALTER ROLE {role} SET jit = off").format(role=role),
            sql.SQL("GRANT CONNECT ON DATABASE {db} TO {role}").format(db=database, role=role),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {role}").format(role=role),
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ).format(role=role),
            sql.SQL(
                "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"
            ).format(role=role),
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
            ).format(role=role),
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}"
            ).format(role=role),
        ]
        if password is not None:
            statements.append(
                sql.SQL("ALTER ROLE {role} PASSWORD {password}").format(
                    role=role, password=sql.Literal(password)
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            for statement in statements:
                raw.execute(statement)
            raw.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", [name])
            (bypasses,) = raw.fetchone()
        if bypasses:
            raise CommandError(f"The role {name} still bypasses row-level security.")
        self.stdout.write(
            f"Role {name} is ready: connect the app as it with DATABASE_RLS=true; keep the "
            "owner role for migrate and seed_demo."
        )
