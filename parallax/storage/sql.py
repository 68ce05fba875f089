"""The history's connection: SQLite through the standard library or PostgreSQL through psycopg, a small pool of
open connections, and SQL written once with `:name` parameters (bound, never formatted in) for both."""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Params = dict[str, Any]
_NAME = re.compile(r"(?<![:\w]):(\w+)")
_IDLE_KEPT = 5  # open connections kept between transactions; more are opened when more threads write at once


class SQLError(Exception):
    """A database could not be reached, or refused a statement."""


class Connection:
    """One connection inside one transaction: statements with `:name` parameters; a list value is expanded for
    `IN :name`, a list of dicts runs the statement once for each."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw, self.dialect = raw, dialect

    def execute(self, sql: str, params: Params | list[Params] | None = None) -> int:
        """Runs a statement; returns how many rows it changed."""
        if isinstance(params, list):
            if not params:
                return 0
            cursor = self.raw.cursor()
            cursor.executemany(self._placeholders(sql), params)
        else:
            cursor = self._run(sql, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def rows(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        cursor = self._run(sql, params)
        try:
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def records(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Rows as dicts by column name."""
        cursor = self._run(sql, params)
        try:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def _run(self, sql: str, params: Params | None) -> Any:
        sql, params = _expand(sql, params or {})
        cursor = self.raw.cursor()
        cursor.execute(self._placeholders(sql), params)
        return cursor

    def _placeholders(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql  # sqlite3 binds `:name` itself
        return _NAME.sub(r"%(\1)s", sql.replace("%", "%%"))


def _expand(sql: str, params: Params) -> tuple[str, Params]:
    """`IN :keys` with a list: one parameter per item."""
    lists = {name: value for name, value in params.items() if isinstance(value, list | tuple)}
    if not lists:
        return sql, params
    out = {name: value for name, value in params.items() if name not in lists}
    for name, values in lists.items():
        names = [f"{name}_{i}" for i in range(len(values))]
        out.update(zip(names, values, strict=True))
        inner = ", ".join(f":{n}" for n in names) or "NULL"
        sql = re.sub(rf"(?<![:\w]):{name}\b", f"({inner})", sql)
    return sql, out


class Pool:
    """A database URL's connections: `sqlite:///path` or `postgresql://…` (`postgresql+psycopg://…` as well).
    `transaction()` hands out one connection for one transaction: committed at the end, rolled back on error."""

    def __init__(self, url: str, on_connect: Callable[[Any], None] | None = None) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            self.dialect, path = "sqlite", url.removeprefix("sqlite:///").split("?")[0]
            self._open: Callable[[], Any] = lambda: _sqlite(path, on_connect)
        elif url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            self.dialect, conninfo = "postgresql", "postgresql://" + url.split("://", 1)[1]
            self._open = lambda: _postgres(conninfo)
        else:
            raise SQLError(f"not a database URL Parallax reads (sqlite:///… or postgresql://…): {url.split(':')[0]}")
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The database's own errors, inside the block or at commit, come out as SQLError."""
        raw = self._checkout()
        try:
            yield Connection(raw, self.dialect)
            raw.commit()
        except BaseException as exc:
            _quietly(raw.rollback)
            self._checkin(raw)
            if _database_error(exc):
                raise _error(exc) from None
            raise
        self._checkin(raw)

    def _checkout(self) -> Any:
        while True:
            with self._lock:
                raw = self._idle.pop() if self._idle else None
            if raw is None:
                try:
                    return self._open()
                except Exception as exc:
                    raise _error(exc) from None
            if self._alive(raw):
                return raw
            _quietly(raw.close)

    def _alive(self, raw: Any) -> bool:
        """A pooled PostgreSQL connection may have lost its server (restarted, idle timeout): asked first. The
        question opens the transaction the caller's statements then run in (one round trip, not two)."""
        if self.dialect == "sqlite":
            return True
        try:
            raw.execute("SELECT 1").close()
            return True
        except Exception:  # noqa: BLE001 - any failure means: open a new one
            return False

    def _checkin(self, raw: Any) -> None:
        with self._lock:
            healthy = not getattr(raw, "closed", False) and not getattr(raw, "broken", False)
            if healthy and len(self._idle) < _IDLE_KEPT:
                self._idle.append(raw)
                return
        _quietly(raw.close)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            _quietly(raw.close)


def _sqlite(path: str, on_connect: Callable[[Any], None] | None) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # The standard library's own transactions (BEGIN before the first write), as SQLAlchemy used them: a
    # transaction that only reads takes no lock. One thread at a time uses a connection; the pool moves it.
    raw = sqlite3.connect(path, timeout=10, check_same_thread=False)
    if on_connect is not None:
        on_connect(raw)
    return raw


def _postgres(conninfo: str) -> Any:
    import psycopg  # only for a PostgreSQL history

    if "connect_timeout=" not in conninfo:  # the URL's own, else 10 s
        conninfo += ("&" if "?" in conninfo else "?") + "connect_timeout=10"
    return psycopg.connect(conninfo)


def _database_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error | SQLError):
        return True
    psycopg = sys.modules.get("psycopg")  # loaded only if a PostgreSQL history was opened
    return psycopg is not None and isinstance(exc, psycopg.Error)


def _error(exc: BaseException) -> SQLError:
    if isinstance(exc, SQLError):
        return exc
    return SQLError(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001, S110 - closing or rolling back a broken connection
        pass
