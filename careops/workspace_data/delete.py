"""Deleting a workspace: every row it owns, in one transaction, and nothing else.

Each table is emptied of the workspace's rows with one DELETE statement, children before the
rows they point at (tables.delete_order), so PROTECT keys hold at every step and the cost is a
handful of statements whatever the size: Django's delete() would load every row (and every
related row) into memory first to collect cascades and send signals. Nothing here needs
those: every table that points at these rows is itself deleted (tables.uncovered_relations is
checked first), and no domain reacts to a deletion, so no automation event is recorded for
rows on their way out. Users stay: they may belong to other workspaces. Stored files (intake
form uploads) are removed once the transaction has committed, never for a rolled-back one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import structlog
from django.db import transaction

from careops.workspace_data.tables import check_coverage, delete_order, stored_files
from workspaces.models import Workspace

log = structlog.get_logger(__name__)


@dataclass
class DeleteReport:
    workspace_id: int
    slug: str
    name: str
    rows: dict[str, int] = field(default_factory=dict)  # label -> rows deleted, in order
    files: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def workspace_row_counts(*, workspace: Workspace) -> dict[str, int]:
    """How many rows of the workspace each table holds, in delete order (what a delete
    would remove)."""
    tables = delete_order()
    return {table.label: table.rows(workspace).count() for table in tables}


def _files_remove(files: list[tuple[object, str]], workspace_id: int) -> None:
    removed = 0
    for storage, name in files:
        try:
            storage.delete(name)
            removed += 1
        except OSError:
            # The rows are gone; a file that could not be removed is logged for an operator.
            log.warning("workspace_file_not_removed", workspace_id=workspace_id, name=name)
    log.info("workspace_files_removed", workspace_id=workspace_id, files=removed)


def workspace_delete(
    *, workspace: Workspace, progress: Callable[[int, int], None] | None = None
) -> DeleteReport:
    """Delete the workspace and every row of it (module docstring): all or nothing. Calls
    `progress(tables done, tables)` after each table. WorkspaceDataError when a table that
    points at workspace rows is not covered (nothing is deleted)."""
    tables = delete_order()
    check_coverage(tables)
    report = DeleteReport(workspace_id=workspace.pk, slug=workspace.slug, name=workspace.name)
    with transaction.atomic():
        # Holding the workspace row makes every insert of a row of this workspace (its foreign
        # key check takes a share lock on it) wait for the delete, then fail: none slips in.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).values_list("pk").first()
        files = [item for table in tables for item in stored_files(table, workspace)]
        for done, table in enumerate(tables, start=1):
            # _raw_delete: one DELETE ... WHERE, no collector, no signals (module docstring).
            rows = table.rows(workspace)
            report.rows[table.label] = rows._raw_delete(rows.db)
            if progress is not None:
                progress(done, len(tables))
        report.files = len(files)
        transaction.on_commit(partial(_files_remove, files, workspace.pk))
    log.info(
        "workspace_deleted",
        workspace_id=workspace.pk,
        slug=workspace.slug,
        rows=report.total,
        files=report.files,
    )
    return report
