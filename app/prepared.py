"""Ready-built statements run at the driver where SQLAlchemy's own Python is the cost.

A Core statement is built once, at import. On SQLite (``InlineSqlite``, the
loop's own thread) it is compiled once, with the bind and result processors
of its columns' types, and each execution goes straight to ``sqlite3`` on the
session's connection, inside the session's transaction (and savepoint): a
primary-key ``SELECT`` costs a few microseconds there against 50–200 µs through
the session (docs/performance.md, P3). On any other engine the same statement
runs through the session's connection as Core, where SQLAlchemy caches its
compiled form.

The caller's session must hold no objects of the rows these statements
change: nothing here is flushed first or refreshed after.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from app.db import sent, sqlite_connection

Params = Mapping[str, Any]
Processor = Callable[[Any], Any] | None


class Ready:
    """One statement, built once; ``statement`` may be a function of the dialect's name."""

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        self._statement = statement
        self._by_dialect: dict[str, Executable] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def statement(self, dialect: str) -> Executable:
        found = self._by_dialect.get(dialect)
        if found is None:
            made = self._statement
            found = made if isinstance(made, Executable) else made(dialect)
            self._by_dialect[dialect] = found
        return found

    def compiled(self, dialect: Dialect, keys: Sequence[str]) -> _Compiled:
        key = (dialect.name, tuple(keys))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _Compiled(self.statement(dialect.name), dialect, keys)
        return found


class _Compiled:
    """A statement's SQL for one dialect, its parameters in order and how each is converted."""

    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        names = compiled.positiontup or []
        binds = compiled.binds
        self.params: list[tuple[str, Any, Processor]] = [
            (name, binds[name].effective_value, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        columns = statement.exported_columns  # type: ignore[attr-defined]  # a SELECT's, or RETURNING's
        self.results: list[Processor] = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]

    def bind(self, params: Params) -> tuple[Any, ...]:
        out = []
        for name, default, process in self.params:
            value = params.get(name, default)
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)

    def row(self, raw: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if raw is None:
            return None
        return tuple(p(v) if p is not None and v is not None else v
                     for p, v in zip(self.results, raw, strict=True))


class Rows:
    """Runs ready statements in a session's transaction; made once per unit of work (``of``)."""

    def __init__(self, connection: AsyncConnection, raw: sqlite3.Connection | None) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.raw = raw

    @classmethod
    async def of(cls, s: AsyncSession) -> Rows:
        """The session's connection (``sqlite3``'s under it on SQLite) for its current transaction."""
        connection, raw = await sqlite_connection(s)
        return cls(connection, raw)

    async def first(self, ready: Ready, params: Params) -> tuple[Any, ...] | None:
        """The statement's first row (a ``SELECT``, or a write with ``RETURNING``), or None."""
        if self.raw is None:
            return (await self.connection.execute(ready.statement(self.dialect.name), dict(params))).first()
        compiled = ready.compiled(self.dialect, list(params))
        sent(self.connection, compiled.sql, params)
        try:
            cursor = self.raw.execute(compiled.sql, compiled.bind(params))
            found = cursor.fetchone()
            cursor.close()
        except sqlite3.Error as e:
            raise _as_sqlalchemy(e, compiled.sql, params) from e
        return compiled.row(found)

    async def run(self, ready: Ready, params: Params | Sequence[Params]) -> None:
        """Execute a write; a list of parameter sets runs as one ``executemany``."""
        many = not isinstance(params, Mapping)
        if self.raw is None:
            value = [dict(p) for p in params] if many else dict(params)  # type: ignore[union-attr]
            await self.connection.execute(ready.statement(self.dialect.name), value)
            return
        sets: Sequence[Params] = params if many else [params]  # type: ignore[assignment,list-item]
        compiled = ready.compiled(self.dialect, list(sets[0]))
        sent(self.connection, compiled.sql, params, many)
        try:
            if many:
                self.raw.executemany(compiled.sql, [compiled.bind(p) for p in sets])
            else:
                self.raw.execute(compiled.sql, compiled.bind(sets[0])).close()
        except sqlite3.Error as e:
            raise _as_sqlalchemy(e, compiled.sql, params) from e


def _as_sqlalchemy(e: sqlite3.Error, sql: str, params: Any) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it (a unique key: ``IntegrityError``), as callers expect."""
    return DBAPIError.instance(sql, params, e, sqlite3.Error)
