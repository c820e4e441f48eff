"""Database helpers every app shares: which constraint a write ran into, rows updated in one
round trip, text PostgreSQL can store, and a hot read's SQL written once (JoinedSelect)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, connections
from django.db.models import Model


def is_constraint(exc: IntegrityError, name: str, *, sqlite_hint: str = "") -> bool:
    """Whether the IntegrityError is the violation of constraint `name`: PostgreSQL names it;
    SQLite only says which columns ("UNIQUE constraint failed: <table>.<column>"), so a caller
    may give that text as `sqlite_hint`."""
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    if constraint is not None:
        return constraint == name
    return bool(sqlite_hint) and sqlite_hint in str(exc)


def rows_update(objs: list[Model], fields: list[str]) -> None:
    """Store `fields` of each row as the instances hold them (updated_at too: nothing is set
    here), in one executemany that the driver pipelines.

    QuerySet.bulk_update writes a CASE WHEN per row and field, whose building costs Django
    about 0.2 ms per row and field: more than saving the rows one by one."""
    if not objs:
        return
    meta = objs[0]._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    # Only names from the model's own meta are formatted in; the values are parameters.
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
        + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def storable_text(text: str) -> bool:
    """Whether PostgreSQL can store the text: it takes neither a NUL character nor a lone
    surrogate (which is not UTF-8), and refusing them at the form beats a 500 at the insert."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


class JoinedSelect:
    """A model's rows with some of its foreign keys joined, read with SQL written once from the
    models' own fields, and built as select_related builds them: each instance from_db, the
    joined ones cached on their foreign key.

    For the hottest reads only. Django compiles a queryset's SQL again on every evaluation: for
    the API's membership read (three tables, forty columns) that was most of a millisecond of
    every request, while the SQL never changes. The joins are inner, so only non-null foreign
    keys may be joined. `sql` ends with the FROM clause; a caller adds its WHERE (with
    `column()` for the names) and its parameters.
    """

    def __init__(self, model: type[Model], relations: tuple[str, ...], *, using: str = "default"):
        quote = connections[using].ops.quote_name
        self.model = model
        self.using = using
        self._aliases = {None: "t0"}
        self._parts: list[tuple[type[Model], list, Any]] = [(model, _fields(model), None)]
        joins = [f"{quote(model._meta.db_table)} AS t0"]
        for index, name in enumerate(relations, start=1):
            foreign_key = model._meta.get_field(name)
            if foreign_key.null or not foreign_key.many_to_one:
                raise ValueError(f"{model.__name__}.{name} is not a non-null foreign key")
            related = foreign_key.related_model
            alias = self._aliases[name] = f"t{index}"
            target = quote(foreign_key.target_field.column)
            joins.append(
                f"JOIN {quote(related._meta.db_table)} AS {alias} "
                f"ON {alias}.{target} = t0.{quote(foreign_key.column)}"
            )
            self._parts.append((related, _fields(related), foreign_key))
        columns = ", ".join(
            f"{self._aliases[None if fk is None else fk.name]}.{quote(field.column)}"
            for _, fields, fk in self._parts
            for field in fields
        )
        # Only names from the models' own meta are formatted in; callers pass values as params.
        self.sql = f"SELECT {columns} FROM {' '.join(joins)}"  # noqa: S608
        # As the compiler applies them: the backend's converters, then the field's (from_db_value).
        connection = connections[using]
        cols = [field.get_col("t") for _, fields, _ in self._parts for field in fields]
        self._converters = [
            (index, col, converters)
            for index, col in enumerate(cols)
            if (
                converters := [
                    *connection.ops.get_db_converters(col),
                    *col.get_db_converters(connection),
                ]
            )
        ]

    def column(self, field_name: str, relation: str | None = None) -> str:
        """The qualified column of a field of the model, or of a joined relation's model."""
        model = (
            self.model if relation is None else self.model._meta.get_field(relation).related_model
        )
        meta = model._meta
        quote = connections[self.using].ops.quote_name
        return f"{self._aliases[relation]}.{quote(meta.get_field(field_name).column)}"

    def rows(self, where: str, params: list) -> list[Model]:
        """The instances of `<sql> <where>` (WHERE, ORDER BY, LIMIT), joined ones attached."""
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(f"{self.sql} {where}", params)
            return [self._build(row, connection) for row in cursor.fetchall()]

    def _build(self, row: tuple, connection) -> Model:
        values = list(row)
        for index, col, converters in self._converters:
            for convert in converters:
                values[index] = convert(values[index], col, connection)
        base, start = None, 0
        for model, fields, foreign_key in self._parts:
            end = start + len(fields)
            instance = model.from_db(self.using, [f.attname for f in fields], values[start:end])
            start = end
            if foreign_key is None:
                base = instance
            else:
                foreign_key.set_cached_value(base, instance)
        return base


def _fields(model: type[Model]) -> list:
    return list(model._meta.concrete_fields)
