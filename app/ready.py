"""Ready-built statements run on the driver, for the hot paths.

Executing a statement through SQLAlchemy costs 60–90 µs of Python each time
(the execution context, the compiled-cache look-up, the result object, ORM
rows), while SQLite needs 4 µs for a primary-key ``SELECT`` and the driver's
cursor about 10 µs (docs/performance.md, P1). A ``Ready`` statement is a Core
statement compiled once per dialect, with what SQLAlchemy itself would do to
each parameter and each result column (its bind and result processors: UTC
datetimes, JSON, booleans) worked out at the same time; running it is one
call on the driver of a connection (a ``Driver``: a pooled connection's, handed
over by ``Database.run_read`` / ``run_write``, for a path with a transaction of
its own; or a session's, through ``in_session``, for statements inside the
session's transaction and savepoint). So the SQL is written once, as Core,
for every engine, and each engine gets its own dialect's SQL and conversions.
A database error surfaces as SQLAlchemy's own exception (``IntegrityError``
for a unique key), as from ``Session.execute``.

What it does not do: Python-side column defaults that are not plain values,
expanding ``IN ()`` parameters, results of ``RETURNING``, and ORM objects.
Rows come back as dicts keyed by the selected columns' names (use ``label``
where two tables share one). The caller's session must hold no objects of
the rows these statements change: nothing is flushed first or refreshed after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Driver:
    """A pooled connection in a transaction: its DBAPI connection (SQLAlchemy's adapter of the
    driver), its dialect, and on SQLite the ``sqlite3`` connection itself, whose calls already run
    in this thread (``app/db.py``, ``InlineSqlite``), so they skip the adapter's layers. A session's
    also carries its ``Connection``, whose ``before_cursor_execute`` listeners (statement counts,
    tracing) hear of every statement sent here."""

    dbapi: Any
    dialect: Dialect
    native: Any = None
    connection: Any = None

    def execute(self, sql: str, parameters: list[Any]) -> Any:
        """The statement run; its cursor."""
        if self.connection is not None:
            _heard(self.connection, sql, parameters, False)
        try:
            if self.native is not None:
                return self.native.execute(sql, parameters)
            cursor = self.dbapi.cursor()
            cursor.execute(sql, parameters)
            return cursor
        except self.dialect.loaded_dbapi.Error as e:
            raise _wrapped(self, sql, parameters, e) from e

    def executemany(self, sql: str, batch: list[list[Any]]) -> None:
        if self.connection is not None:
            _heard(self.connection, sql, batch, True)
        try:
            (self.native or self.dbapi.cursor()).executemany(sql, batch)
        except self.dialect.loaded_dbapi.Error as e:
            raise _wrapped(self, sql, batch, e) from e

    def commit(self) -> None:
        try:
            (self.native or self.dbapi).commit()
        except self.dialect.loaded_dbapi.Error as e:
            raise _wrapped(self, "COMMIT", [], e) from e


def _heard(sync: Any, sql: str, parameters: Any, many: bool) -> None:
    """Tell a ``Connection``'s ``before_cursor_execute`` listeners of a statement sent to its driver."""
    if sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, sql, parameters, None, many)


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
    """One Core statement, run on the driver; ``first``/``rows`` for a SELECT (or a write's
    ``RETURNING``), ``run`` otherwise. ``statement`` may be a function of the dialect's name."""

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get((dialect.name, dialect.driver))
        if compiled is None:
            made = self.statement
            statement = made if isinstance(made, Executable) else made(dialect.name)
            compiled = self._by_dialect[(dialect.name, dialect.driver)] = _compile(statement, dialect)
        return compiled

    def rows(self, conn: Driver, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        compiled = self._for(conn.dialect)
        cursor = conn.execute(compiled.sql, compiled.parameters(params))
        return [compiled.row(values) for values in cursor.fetchall()]

    def first(self, conn: Driver, params: Mapping[str, Any]) -> dict[str, Any] | None:
        compiled = self._for(conn.dialect)
        cursor = conn.execute(compiled.sql, compiled.parameters(params))
        values = cursor.fetchone()
        cursor.close()  # a write's RETURNING: its statement finished before the next one
        return None if values is None else compiled.row(values)

    def run(self, conn: Driver, params: Mapping[str, Any]) -> None:
        compiled = self._for(conn.dialect)
        conn.execute(compiled.sql, compiled.parameters(params))

    def run_many(self, conn: Driver, rows: Sequence[Mapping[str, Any]]) -> None:
        """The statement once for each of ``rows`` (its parameters), in one ``executemany``."""
        if not rows:
            return
        compiled = self._for(conn.dialect)
        conn.executemany(compiled.sql, [compiled.parameters(row) for row in rows])


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


_KEPT = "ready.driver"


async def session_driver(s: AsyncSession) -> tuple[AsyncConnection, Driver]:
    """The session's connection and its driver, for its current transaction; kept in ``s.info``
    for that transaction (asking the session costs more than a statement on SQLite)."""
    transaction = s.sync_session.get_transaction()
    kept = s.info.get(_KEPT)
    if kept is not None and transaction is not None and kept[0] is transaction:
        return kept[1], kept[2]
    connection = await s.connection()
    sync = connection.sync_connection
    assert sync is not None
    pooled = sync.connection
    native = pooled.driver_connection.native if sync.dialect.name == "sqlite" else None  # type: ignore[union-attr]
    driver = Driver(pooled.dbapi_connection, sync.dialect, native, sync)
    s.info[_KEPT] = (s.sync_session.get_transaction(), connection, driver)
    return connection, driver


async def in_session(s: AsyncSession, work: Callable[..., T], *args: Any) -> T:
    """``work(driver, *args)`` on the session's connection, in its transaction (and savepoint)."""
    connection, driver = await session_driver(s)
    if driver.native is not None:
        return work(driver, *args)  # sqlite3 in this thread: nothing to wait for
    return await connection.run_sync(lambda _sync: work(driver, *args))


async def in_driver_savepoint(s: AsyncSession, work: Callable[[AsyncSession], Awaitable[T]]) -> tuple[bool, Any]:
    """``work(s)`` in a savepoint of a SQLite session's transaction (``GroupCommit``), with ``SAVEPOINT``
    and ``RELEASE`` sent straight to ``sqlite3`` (SQLAlchemy's cost more Python than a settlement's
    statements there): ``(True, result)``, or ``(False, error)`` with the savepoint rolled back. The work
    keeps what it does through the session's objects in a ``begin_nested()`` of its own, so a failed
    flush rolls back to that and leaves the transaction usable; anything left unflushed is flushed here."""
    _connection, driver = await session_driver(s)
    driver.execute("SAVEPOINT piece", []).close()
    try:
        value = await work(s)
        if s.new or s.dirty or s.deleted:
            await s.flush()
        driver.execute("RELEASE piece", []).close()
        return True, value
    except Exception as e:
        driver.execute("ROLLBACK TO piece", []).close()
        driver.execute("RELEASE piece", []).close()
        return False, e
    finally:
        if s.identity_map or s.new:
            s.expunge_all()
