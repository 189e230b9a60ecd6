"""Ready-built statements run on the driver, for the hot paths.

Executing a statement through SQLAlchemy costs 60–90 µs of Python each time
(the execution context, the compiled-cache look-up, the result object, ORM
rows), while SQLite needs 4 µs for a primary-key ``SELECT`` and the driver's
cursor about 10 µs (docs/performance.md, P1). A ``Ready`` statement is a Core
statement compiled once per dialect, with what SQLAlchemy itself would do to
each parameter and each result column (its bind and result processors: UTC
datetimes, JSON, booleans) worked out at the same time; running it is one
call on the driver of a pooled connection (a ``Driver``, handed over by
``Database.run_read`` / ``run_write``). So the SQL is written once, as Core,
for every engine, and each engine gets its own dialect's SQL and conversions.
A database error surfaces as SQLAlchemy's own exception (``IntegrityError``
for a unique key), as from ``Session.execute``.

What it does not do: Python-side column defaults that are not plain values,
expanding ``IN ()`` parameters, results of ``RETURNING``, and ORM objects.
Rows come back as dicts keyed by the selected columns' names (use ``label``
where two tables share one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class Driver:
    """A pooled connection in a transaction: its DBAPI connection (SQLAlchemy's adapter of the
    driver), its dialect, and on SQLite the ``sqlite3`` connection itself, whose calls already run
    in this thread (``app/db.py``, ``InlineSqlite``), so they skip the adapter's layers."""

    dbapi: Any
    dialect: Dialect
    native: Any = None

    def execute(self, sql: str, parameters: list[Any]) -> Any:
        """The statement run; its cursor."""
        try:
            if self.native is not None:
                return self.native.execute(sql, parameters)
            cursor = self.dbapi.cursor()
            cursor.execute(sql, parameters)
            return cursor
        except self.dialect.loaded_dbapi.Error as e:
            raise _wrapped(self, sql, parameters, e) from e

    def executemany(self, sql: str, batch: list[list[Any]]) -> None:
        try:
            (self.native or self.dbapi.cursor()).executemany(sql, batch)
        except self.dialect.loaded_dbapi.Error as e:
            raise _wrapped(self, sql, batch, e) from e

    def commit(self) -> None:
        try:
            (self.native or self.dbapi).commit()
        except self.dialect.loaded_dbapi.Error as e:
            raise _wrapped(self, "COMMIT", [], e) from e


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order the SQL takes them
    fixed: Mapping[str, Any]  # parameters whose value the statement itself carries
    binds: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, conversion) where there is one
    columns: tuple[str, ...]  # the result's, for a SELECT
    results: tuple[Processor, ...]

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        if self.fixed:
            params = {**self.fixed, **params}
        values = [params[n] for n in self.names]
        for i, convert in self.binds:
            values[i] = convert(values[i])
        return values

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        return {c: v if p is None else p(v) for c, v, p in zip(self.columns, values, self.results, strict=True)}


def _compile(statement: Any, dialect: Dialect, column_keys: list[str] | None = None) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("a ready statement takes no expanding IN (): write it with or_()")
    names = tuple(compiled.positiontup or ())
    processors = compiled._bind_processors
    fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
    columns = tuple(entry.keyname for entry in compiled._result_columns)
    results = tuple(entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns)
    binds = tuple((i, processors[n]) for i, n in enumerate(names) if processors.get(n) is not None)
    return _Compiled(compiled.string, names, fixed, binds, columns, results)


class Ready:
    """One Core statement, run on the driver; ``first``/``rows`` for a SELECT, ``run`` otherwise."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get((dialect.name, dialect.driver))
        if compiled is None:
            compiled = self._by_dialect[(dialect.name, dialect.driver)] = _compile(self.statement, dialect)
        return compiled

    def rows(self, conn: Driver, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        compiled = self._for(conn.dialect)
        cursor = conn.execute(compiled.sql, compiled.parameters(params))
        return [compiled.row(values) for values in cursor.fetchall()]

    def first(self, conn: Driver, params: Mapping[str, Any]) -> dict[str, Any] | None:
        compiled = self._for(conn.dialect)
        values = conn.execute(compiled.sql, compiled.parameters(params)).fetchone()
        return None if values is None else compiled.row(values)

    def run(self, conn: Driver, params: Mapping[str, Any]) -> None:
        compiled = self._for(conn.dialect)
        conn.execute(compiled.sql, compiled.parameters(params))


class ReadyInsert:
    """A table's ``INSERT`` of the columns given, run on the driver; one row, or many in one ``executemany``.

    Columns left out take their plain default (``default=0``); one left out whose
    default is not a plain value is an error, not a silent NULL.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self._by_shape: dict[tuple[str, str, tuple[str, ...]], tuple[_Compiled, dict[str, Any]]] = {}

    def _for(self, dialect: Dialect, keys: tuple[str, ...]) -> tuple[_Compiled, dict[str, Any]]:
        found = self._by_shape.get((dialect.name, dialect.driver, keys))
        if found is None:
            defaults: dict[str, Any] = {}
            for column in self.table.columns:
                if column.key in keys or column.default is None:
                    continue
                if not column.default.is_scalar:
                    raise ValueError(f"{self.table.name}.{column.key} needs a value: its default is not plain")
                defaults[column.key] = column.default.arg  # type: ignore[attr-defined]
            compiled = _compile(self.table.insert(), dialect, [*keys, *defaults])
            found = self._by_shape[(dialect.name, dialect.driver, keys)] = (compiled, defaults)
        return found

    def run(self, conn: Driver, row: Mapping[str, Any]) -> None:
        compiled, defaults = self._for(conn.dialect, tuple(row))
        conn.execute(compiled.sql, compiled.parameters({**defaults, **row}))

    def run_many(self, conn: Driver, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows of the same columns, in one ``executemany``."""
        if not rows:
            return
        compiled, defaults = self._for(conn.dialect, tuple(rows[0]))
        conn.executemany(compiled.sql, [compiled.parameters({**defaults, **row}) for row in rows])


def _wrapped(conn: Driver, sql: str, parameters: Any, error: Exception) -> exc.DBAPIError:
    """The driver's error as SQLAlchemy raises it from any other statement (IntegrityError, …)."""
    return exc.DBAPIError.instance(sql, parameters, error, conn.dialect.loaded_dbapi.Error,
                                   dialect=conn.dialect)
