"""A workspace's data as a whole: which tables hold it (tables), all of it as a zip file
(export), and removing all of it (delete). The manage.py commands workspace_export and
workspace_delete are their front ends.

careops, which may import every app, holds this: the tables are found through the app
registry, so a model added to any app later is exported and deleted with the rest.
"""

from careops.workspace_data.delete import DeleteReport, workspace_delete, workspace_row_counts
from careops.workspace_data.export import ExportReport, secret_fields, workspace_export
from careops.workspace_data.tables import (
    Table,
    WorkspaceDataError,
    delete_order,
    uncovered_relations,
    workspace_tables,
)

__all__ = [
    "DeleteReport",
    "ExportReport",
    "Table",
    "WorkspaceDataError",
    "delete_order",
    "secret_fields",
    "uncovered_relations",
    "workspace_delete",
    "workspace_export",
    "workspace_row_counts",
    "workspace_tables",
]
