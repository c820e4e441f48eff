"""Row-level security: PostgreSQL itself keeps a workspace's requests to that workspace's rows.

Every workspace-owned table has a policy (migration careops 0003) that lets a row through when

    current_setting('app.workspace_id') = '*'             (the all-workspaces scope), or
    workspace_id = current_setting('app.workspace_id')    (one workspace's scope);

with the setting unset or empty, no row passes. The link tables of many-to-many fields pass a
row when its workspace-owned end is visible.

The application connects as a role that cannot bypass RLS (`manage.py db_app_role` makes it,
with '*' as its default setting); migrations, `seed_demo` and `createsuperuser`-style
maintenance run as the tables' owner, to which the policies do not apply.

Who runs in which scope:
- a request starts in the all-workspaces scope (signing in, finding the caller's memberships,
  the admin's support pages) and is narrowed to its workspace as soon as careops.tenancy binds
  it, or a public page finds its workspace (by slug or by a signed link);
- a Celery task runs in the scope that published it (a message header), so work started by a
  request stays in that request's workspace; periodic sweeps run in the all-workspaces scope;
- management commands run in the all-workspaces scope.

The scope is applied per transaction (`set_config('app.workspace_id', ..., true)`), which is
safe behind a transaction pooler (Supabase's port 6543): a statement outside a transaction
block is given one of its own. Nothing is sent while `settings.DATABASE_RLS` is off (SQLite,
or a database whose role bypasses RLS anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import transaction
from psycopg.pq import TransactionStatus

ALL = "*"
SETTING = "app.workspace_id"
HEADER = "careops_workspace"
# The scope the current transaction was given: unknown after a rollback to a savepoint (which
# undoes a set_config made inside it).
_UNKNOWN = object()

_scope: ContextVar[str] = ContextVar("careops_workspace_scope", default=ALL)


def current() -> str:
    """The scope queries run in now: ALL, or a workspace's id as text."""
    return _scope.get()


def narrow(workspace_id: int) -> None:
    """Narrow the rest of this request (or task) to one workspace. WorkspaceScopeMiddleware and
    the task signals restore the scope when the request or task ends."""
    _scope.set(str(int(workspace_id)))


@contextmanager
def workspace_scope(workspace_id: int | None) -> Iterator[None]:
    """Run a block in one workspace's scope (None: the all-workspaces scope)."""
    token = _scope.set(ALL if workspace_id is None else str(int(workspace_id)))
    try:
        yield
    finally:
        _scope.reset(token)


def all_workspaces():
    """Run a block in the all-workspaces scope: for reads that cross workspaces on purpose (the
    caller's own memberships in the workspace switcher)."""
    return workspace_scope(None)


class WorkspaceScopeMiddleware:
    """Each request starts in the all-workspaces scope and leaves no scope behind."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with all_workspaces():
            return self.get_response(request)


def _apply(connection, scope: str) -> None:
    # A cursor of its own: the caller's may be a server-side one, and this one must not pass
    # through the execute wrappers again.
    # Errors as Django's (a lost connection: OperationalError, hence the 503), as a query's are.
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [SETTING, scope])
    connection._rls_scope = scope


def enforce_scope(execute, sql, params, many, context):
    """Execute wrapper (installed on every PostgreSQL connection): give the transaction the
    current scope before its first statement, and again whenever the scope changes."""
    connection = context["connection"]
    if not getattr(settings, "DATABASE_RLS", False):
        return execute(sql, params, many, context)
    status = connection.connection.info.transaction_status
    if status == TransactionStatus.INERROR:
        return execute(sql, params, many, context)
    applied = connection.__dict__.get("_rls_scope") if status == TransactionStatus.INTRANS else None
    wanted = _scope.get()
    if applied == wanted or (applied is None and wanted == ALL):
        # ALL needs nothing in a fresh transaction: it is the app role's default setting.
        result = execute(sql, params, many, context)
    elif not connection.get_autocommit():
        _apply(connection, wanted)
        result = execute(sql, params, many, context)
    else:
        # A statement outside a transaction block gets one of its own, so the setting is
        # local to it.
        with transaction.atomic(using=connection.alias):
            _apply(connection, wanted)
            return execute(sql, params, many, context)
    if isinstance(sql, str) and sql.lstrip()[:22].upper() == "ROLLBACK TO SAVEPOINT ":
        connection._rls_scope = _UNKNOWN
    return result


def install(connection) -> None:
    """Add the wrapper to a new PostgreSQL connection (careops.apps, connection_created)."""
    if connection.vendor == "postgresql" and enforce_scope not in connection.execute_wrappers:
        connection.execute_wrappers.append(enforce_scope)


# --- Celery: a task runs in the scope that published it ----------------------------------------


def task_headers(headers: dict | None) -> None:
    """before_task_publish: carry a narrowed scope to the task."""
    scope = _scope.get()
    if headers is not None and scope != ALL:
        headers[HEADER] = scope


_task_tokens: dict[str, object] = {}


def task_started(task_id: str, request) -> None:
    """task_prerun: enter the scope the task was published in (ALL when none was carried)."""
    scope = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if isinstance(scope, str) and scope.isdigit():
        value = scope
    else:
        # Run in place (eager): the caller's scope; from the broker without one: a sweep's.
        value = _scope.get() if getattr(request, "is_eager", False) else ALL
    _task_tokens[task_id] = _scope.set(value)


def task_ended(task_id: str) -> None:
    """task_postrun: leave the task's scope."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _scope.reset(token)


# --- The policies (migrations call these) ------------------------------------------------------

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION careops_scope_all() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('{SETTING}', true), '') = '{ALL}' $$;
CREATE OR REPLACE FUNCTION careops_scope_workspace() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN current_setting('{SETTING}', true) ~ '^[0-9]{{1,18}}$'
                      THEN current_setting('{SETTING}', true)::bigint END $$;
"""
POLICY = "careops_workspace"


def policy_sql(table: str) -> str:
    """Row-level security on a workspace-owned table (one with its own workspace_id). Each
    function in a sub-select: PostgreSQL computes it once per query (an InitPlan) instead of
    once per row, and workspace_id = (SELECT ...) can use an index."""
    return f"""
ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS {POLICY} ON "{table}";
CREATE POLICY {POLICY} ON "{table}"
    USING ((SELECT careops_scope_all()) OR workspace_id = (SELECT careops_scope_workspace()));
"""


def link_policy_sql(table: str, column: str, parent_table: str) -> str:
    """Row-level security on a many-to-many link table: a link row is visible when its
    workspace-owned end (`column` -> `parent_table`) is, the parent's policy deciding."""
    # Names from the models' metadata, never from input.
    return f"""
ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS {POLICY} ON "{table}";
CREATE POLICY {POLICY} ON "{table}"
    USING (EXISTS (SELECT 1 FROM "{parent_table}" p WHERE p.id = "{column}"));
"""  # noqa: S608


def drop_policy_sql(table: str) -> str:
    return (
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"; '
        f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY;'
    )


def policies_operation(*tables: str):
    """The migration operation that puts the policy on new workspace-owned tables (and takes
    it off when migrating back); nothing on databases other than PostgreSQL (the quickstart's
    SQLite). A migration using it depends on careops 0003, which made the functions."""
    from django.db import migrations

    def enable(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(policy_sql(table))

    def disable(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(drop_policy_sql(table))

    return migrations.RunPython(enable, disable, elidable=False)


def protected_tables(models) -> list[tuple[str, str | None, str | None]]:
    """(table, link column, parent table) for every workspace-owned table among `models` (and
    link tables of their many-to-many fields); link column and parent are None for a table with
    its own workspace_id."""
    found = []
    for model in models:
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        if any(f.name == "workspace" and f.is_relation for f in meta.concrete_fields):
            found.append((meta.db_table, None, None))
            for field in meta.local_many_to_many:
                through = field.remote_field.through._meta
                if through.auto_created:
                    found.append((through.db_table, field.m2m_column_name(), meta.db_table))
    return found


class AcrossWorkspaces:
    """A queryset read in the all-workspaces scope when first used (by a template), for lists
    that cross workspaces on purpose: the caller's own memberships."""

    def __init__(self, queryset) -> None:
        self.queryset = queryset
        self._rows: list | None = None

    def _read(self) -> list:
        if self._rows is None:
            with all_workspaces():
                self._rows = list(self.queryset)
        return self._rows

    def __iter__(self):
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __bool__(self) -> bool:
        return bool(self._read())
