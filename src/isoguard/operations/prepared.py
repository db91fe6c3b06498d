"""Values queries compiled once, then run again with other ids: the hot reads of the requests
that come most (a course's record, a pharmacy's prescription, an API token with its user).

Django builds and compiles a queryset's SQL each time it runs it. For the small reads of one
course's record that costs about ten times what the database takes to answer (bench: 0.47 ms a
query through the ORM, 0.03 ms for SQLite to run the same SQL), and every dispense
authorisation makes nine of them. They are always the same queries but for the ids, so each is
compiled by Django once per thread, database and number of ids, and run again with the new ids;
Django's own converters (the compiler's) turn the rows into the values `values_list()` gives.
On PostgreSQL, `read_together` sends a record's reads in one round trip.

The SQL is Django's: nothing here writes SQL. A query whose parameters are not exactly its ids
is refused when it is first compiled, so a cached statement can never run with the wrong values.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

CACHED = 64
"""Compiled statements kept per thread (the least recently used goes first). One course's reads
(a dispense, a page) take nine; a batch compiles its own for its number of courses and of
distinct patients, so a reminder run, whose chunks differ, compiles again as it goes: a cost of
speed only (about 0.3 ms a statement), never of correctness."""

_local = threading.local()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    compiler: SQLCompiler  # of this thread's connection, whose converters it applies
    converters: dict[int, Any]  # by column: the converters Django applies to its values


class PreparedValues:
    """`query(ids).values_list(*fields)` as named rows, compiled once per thread, database and
    number of ids.

    `query` must filter on the ids alone (`field__in=ids`): any other parameter would be frozen
    into the cached statement, so it is refused at compile time. The ids are integer keys, or
    the values of another unique column (an API token's prefix).
    """

    def __init__(
        self, name: str, query: Callable[[list[int]], QuerySet[Any]], *fields: str
    ) -> None:
        self.name = name
        self.query = query
        self.fields = fields
        self.row = namedtuple(name, [f.replace("__", "_") for f in fields], rename=True)  # type: ignore[misc]

    def rows(self, ids: Sequence[int | str], using: str = DEFAULT_DB_ALIAS) -> list[Any]:
        """The rows for these ids, as `values_list(*fields, named=True)` would give them."""
        return read_together([(self, ids)], using)[0]

    def _convert(self, compiled: _Compiled, fetched: list[tuple[Any, ...]]) -> list[Any]:
        width = len(self.fields)
        rows = [r[:width] for r in fetched]
        if compiled.converters:  # as the compiler's results_iter() applies them
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [self.row._make(v) for v in rows]

    def _compiled(self, keys: list[int | str], using: str) -> _Compiled:
        cache: OrderedDict[tuple[PreparedValues, str, int], _Compiled] | None = getattr(
            _local, "cache", None
        )
        if cache is None:
            cache = _local.cache = OrderedDict()
        key = (self, using, len(keys))  # this query, not another of the same name
        compiled = cache.get(key)
        if compiled is not None:
            cache.move_to_end(key)
            return compiled
        queryset = self.query(keys).values_list(*self.fields)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        if list(params) != keys:
            raise ValueError(
                f"{self.name}: a prepared query's parameters must be its ids alone, not {params!r}"
            )
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = compiler.get_converters(columns)
        compiled = cache[key] = _Compiled(sql, compiler, converters)
        if len(cache) > CACHED:
            cache.popitem(last=False)
        return compiled


def read_together(
    reads: Sequence[tuple[PreparedValues, Sequence[int | str]]], using: str = DEFAULT_DB_ALIAS
) -> list[list[Any]]:
    """The rows of several prepared reads, in their order.

    On PostgreSQL they are sent together and answered in one round trip (psycopg's pipeline
    mode), not one round trip each; elsewhere (SQLite, in the same process) one after another.
    """
    connection = connections[using]
    # `__in` drops repeats. Ids no 64-bit key can hold match no row (as Django's `pk=` lookup
    # answers), and SQLite could not even take them as a parameter: dropped too.
    low, high = connection.ops.integer_field_range("BigIntegerField")
    jobs = [
        (read, [i for i in dict.fromkeys(ids) if not isinstance(i, int) or low <= i <= high])
        for read, ids in reads
    ]
    # Only the reads that have ids go to the database; the others are empty.
    asked = [(n, read, read._compiled(keys, using), keys) for n, (read, keys) in enumerate(jobs)
             if keys]  # fmt: skip
    fetched = _fetch(connection, [(compiled.sql, keys) for _, _, compiled, keys in asked])
    found: list[list[Any]] = [[] for _ in jobs]
    for (n, read, compiled, _), rows in zip(asked, fetched, strict=True):
        found[n] = read._convert(compiled, rows)
    return found


def _fetch(connection: Any, statements: list[tuple[str, list[int | str]]]) -> list[list[Any]]:
    """Run each statement and fetch its rows: in one round trip where the connection pipelines
    (_pipelines), else one after another."""
    if len(statements) < 2 or not _pipelines(connection):
        fetched = []
        for sql, params in statements:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                fetched.append(cursor.fetchall())
        return fetched
    with connection.cursor() as first:  # opens the connection (and its health check)
        cursors = [first] + [connection.cursor() for _ in statements[1:]]
        try:
            with connection.wrap_database_errors, connection.connection.pipeline():
                for cursor, (sql, params) in zip(cursors, statements, strict=True):
                    cursor.execute(sql, params)
                return [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors[1:]:
                cursor.close()


def _pipelines(connection: Any) -> bool:
    """Whether to send reads together: PostgreSQL with server-side binding (settings.py), the
    cursors psycopg's pipeline mode is made for."""
    return bool(
        connection.vendor == "postgresql"
        and connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True
    )


@functools.cache
def attnames(model_class: type[Model]) -> tuple[str, ...]:
    """The model's concrete fields as a row holds them (`course_id`, not `course`); worked out
    once per model, not at each request that loads one."""
    return tuple(f.attname for f in model_class._meta.concrete_fields)


def loaded(
    using: str, row: Sequence[Any], *model_classes: type[Model]
) -> tuple[list[Any], tuple[Any, ...]]:
    """The instances a row of `attnames()` of each model in turn holds, built as Django builds
    them from a query (`Model.from_db`), and the values after them. The caller links them
    (`rx.course = course`), as select_related would have."""
    values = tuple(row)
    instances = []
    for model_class in model_classes:
        names = attnames(model_class)
        instances.append(model_class.from_db(using, names, values[: len(names)]))
        values = values[len(names) :]
    return instances, values
