"""Database helpers every app shares: which constraint a write ran into."""

from __future__ import annotations

from django.db import IntegrityError


def is_constraint(exc: IntegrityError, name: str, *, sqlite_hint: str = "") -> bool:
    """Whether the IntegrityError is the violation of constraint `name`: PostgreSQL names it;
    SQLite only says which columns ("UNIQUE constraint failed: <table>.<column>"), so a caller
    may give that text as `sqlite_hint`."""
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    if constraint is not None:
        return constraint == name
    return bool(sqlite_hint) and sqlite_hint in str(exc)
