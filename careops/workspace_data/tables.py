"""Which tables hold a workspace's rows, found from the models rather than listed by hand.

A table belongs to workspaces when its model has a foreign key to Workspace (every
WorkspaceOwnedModel, memberships, invitations, and whatever is added later), and so does the
auto-created table behind each of their many-to-many fields (a contact's tags, a service's
staff). `uncovered_relations` names any other table that points into those: a row there would
be left behind (or block the delete), so export and delete refuse until it is taught here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from django.apps import apps
from django.apps.registry import Apps
from django.core.files.storage import Storage
from django.db import models


@dataclass(frozen=True)
class Table:
    """One table of workspace rows, and the lookup from its rows to their workspace."""

    model: type[models.Model]
    workspace_lookup: str  # "workspace", "contact__workspace" (a through table), "pk"

    @property
    def label(self) -> str:
        """`bookings.booking`, or `contacts.contact_tags` for a many-to-many table."""
        return self.model._meta.label_lower

    @property
    def is_through(self) -> bool:
        return self.model._meta.auto_created is not False

    def rows(self, workspace) -> models.QuerySet:
        # The base manager: a default manager that hides rows must not hide them from us.
        lookup = {self.workspace_lookup: getattr(workspace, "pk", workspace)}
        return self.model._base_manager.filter(**lookup)


def _workspace_model() -> type[models.Model]:
    return apps.get_model("workspaces", "Workspace")


def _workspace_fk(model: type[models.Model], workspace_model) -> models.Field | None:
    links = [
        f
        for f in model._meta.concrete_fields
        if f.is_relation and f.many_to_one and f.related_model is workspace_model
    ]
    return next((f for f in links if f.name == "workspace"), links[0] if links else None)


def workspace_tables(*, registry: Apps = apps) -> list[Table]:
    """Every table holding rows of a workspace: the workspace itself, each model with a
    foreign key to it, and the auto-created tables of those models' many-to-many fields."""
    workspace_model = _workspace_model()
    owned = [(workspace_model, "pk")]
    for model in registry.get_models():
        if model is workspace_model or model._meta.proxy or not model._meta.managed:
            continue
        link = _workspace_fk(model, workspace_model)
        if link is not None:
            owned.append((model, link.name))
    tables = []
    for model, lookup in owned:
        tables.append(Table(model, lookup))
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created:
                tables.append(Table(through, f"{m2m.m2m_field_name()}__{lookup}"))
    return tables


def uncovered_relations(tables: list[Table] | None = None, *, registry: Apps = apps) -> list[str]:
    """Relations into workspace rows from tables that are not workspace tables themselves
    ("app.Model.field -> app.Target"): a model pointing at a Contact without its own
    workspace key, a custom through model, another app's table. Empty when all is covered."""
    tables = workspace_tables() if tables is None else tables
    covered = {table.model for table in tables}
    problems = []
    for model in registry.get_models(include_auto_created=True):
        if model in covered or model._meta.proxy:
            continue
        # A many-to-many field's own table is an auto-created model of this loop too.
        problems.extend(
            f"{model._meta.label}.{f.name} -> {f.related_model._meta.label}"
            for f in model._meta.concrete_fields
            if f.is_relation and f.related_model in covered
        )
    return sorted(problems)


def file_rows(table: Table, workspace) -> Iterator[tuple[models.FileField, models.QuerySet]]:
    """Each file field of the table, with the workspace's rows that hold a file in it."""
    for f in table.model._meta.concrete_fields:
        if isinstance(f, models.FileField):
            yield f, table.rows(workspace).exclude(**{f.attname: ""}).exclude(**{f.attname: None})


def stored_files(table: Table, workspace) -> Iterator[tuple[Storage, str]]:
    """(storage, name) of each file the table's rows of the workspace hold."""
    for f, rows in file_rows(table, workspace):
        for name in rows.order_by("pk").values_list(f.attname, flat=True).iterator(2_000):
            yield f.storage, name


class WorkspaceDataError(Exception):
    """A table points at workspace rows without being one of these tables: exporting or
    deleting would miss its rows."""


def check_coverage(tables: list[Table]) -> None:
    problems = uncovered_relations(tables)
    if problems:
        raise WorkspaceDataError(
            "These relations point at workspace rows from tables that careops.workspace_data "
            f"does not know: {', '.join(problems)}. Give the model a workspace foreign key."
        )


def _references(tables: list[Table], *, nullable: bool) -> dict[type, set[type]]:
    """For each table's model, the models whose rows point at it (to be deleted first)."""
    covered = {table.model for table in tables}
    before: dict[type, set[type]] = {table.model: set() for table in tables}
    for table in tables:
        for f in table.model._meta.concrete_fields:
            target = f.related_model if f.is_relation else None
            if target in covered and target is not table.model and (nullable or not f.null):
                before[target].add(table.model)
    return before


def delete_order(tables: list[Table] | None = None) -> list[Table]:
    """The tables in an order that deletes every row before the rows it points at, so that
    PROTECT foreign keys (a booking's contact and service) are satisfied at each step."""
    tables = workspace_tables() if tables is None else tables
    by_model = {table.model: table for table in tables}
    try:
        order = list(TopologicalSorter(_references(tables, nullable=True)).static_order())
    except CycleError:
        # Two tables pointing at each other: one of the keys is nullable (or the rows could
        # never have been written), and the constraints are checked at commit anyway.
        order = list(TopologicalSorter(_references(tables, nullable=False)).static_order())
    return [by_model[model] for model in order]
