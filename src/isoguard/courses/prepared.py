"""Values queries compiled once, then run again with other ids: the record reader's hot path.

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

import threading
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
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
    row: Any  # the namedtuple class of one row


class PreparedValues:
    """`query(ids).values_list(*fields)` as named rows, compiled once per thread, database and
    number of ids.

    `query` must filter on the ids alone (`field__in=ids`): any other parameter would be frozen
    into the cached statement, so it is refused at compile time.
    """

    def __init__(
        self, name: str, query: Callable[[list[int]], QuerySet[Any]], *fields: str
    ) -> None:
        self.name = name
        self.query = query
        self.fields = fields
        self.row = namedtuple(name, [f.replace("__", "_") for f in fields], rename=True)  # type: ignore[misc]

    def rows(self, ids: Sequence[int], using: str = DEFAULT_DB_ALIAS) -> list[Any]:
        """The rows for these ids, as `values_list(*fields, named=True)` would give them."""
        return read_together([(self, ids)], using)[0]

    def _convert(self, compiled: _Compiled, fetched: list[tuple[Any, ...]]) -> list[Any]:
        width = len(self.fields)
        rows = [r[:width] for r in fetched]
        if compiled.converters:  # as the compiler's results_iter() applies them
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [compiled.row._make(v) for v in rows]

    def _compiled(self, keys: list[int], using: str) -> _Compiled:
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
        compiled = cache[key] = _Compiled(sql, compiler, converters, self.row)
        if len(cache) > CACHED:
            cache.popitem(last=False)
        return compiled


def read_together(
    reads: Sequence[tuple[PreparedValues, Sequence[int]]], using: str = DEFAULT_DB_ALIAS
) -> list[list[Any]]:
    """The rows of several prepared reads, in their order.

    On PostgreSQL they are sent together and answered in one round trip (psycopg's pipeline
    mode), not one round trip each; elsewhere (SQLite, in the same process) one after another.
    """
    connection = connections[using]
    # `__in` drops repeats. Ids no 64-bit key can hold match no row (as Django's `pk=` lookup
    # answers), and SQLite could not even take them as a parameter: dropped too.
    low, high = connection.ops.integer_field_range("BigIntegerField")
    jobs = [(read, [i for i in dict.fromkeys(ids) if low <= i <= high]) for read, ids in reads]
    compiled = [read._compiled(keys, using) if keys else None for read, keys in jobs]
    fetched: list[list[tuple[Any, ...]]] = []
    if len(jobs) > 1 and _pipelines(connection):
        with connection.cursor() as first:  # opens the connection (and its health check)
            cursors = [first] + [connection.cursor() for _ in jobs[1:]]
            try:
                with connection.wrap_database_errors, connection.connection.pipeline():
                    for cursor, statement, (_, keys) in zip(cursors, compiled, jobs, strict=True):
                        if statement is not None:
                            cursor.execute(statement.sql, keys)
                    fetched = [
                        cursor.fetchall() if statement is not None else []
                        for cursor, statement in zip(cursors, compiled, strict=True)
                    ]
            finally:
                for cursor in cursors[1:]:
                    cursor.close()
    else:
        for statement, (_, keys) in zip(compiled, jobs, strict=True):
            if statement is None:
                fetched.append([])
                continue
            with connection.cursor() as cursor:
                cursor.execute(statement.sql, keys)
                fetched.append(cursor.fetchall())
    return [
        read._convert(statement, rows) if statement is not None else []
        for (read, _), statement, rows in zip(jobs, compiled, fetched, strict=True)
    ]


def _pipelines(connection: Any) -> bool:
    """Whether to send reads together: PostgreSQL with server-side binding (settings.py), the
    cursors psycopg's pipeline mode is made for."""
    return bool(
        connection.vendor == "postgresql"
        and connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True
    )
