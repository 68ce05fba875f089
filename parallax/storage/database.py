"""The history database: its connection (SQLite or PostgreSQL), the append-only list of named migrations, and
what the methods of every table share. SQL with bound parameters only (parallax.storage.sql)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from parallax.config import parallax_home
from parallax.storage.sql import Connection, Pool, SQLError

# Append-only: never edit a migration that has shipped; add a new one.
MIGRATIONS: list[tuple[str, list[str]]] = [
    ("0001_runs_branches_cache", [
        """CREATE TABLE runs (
            run_id VARCHAR(64) PRIMARY KEY,
            created_at VARCHAR(32) NOT NULL,
            updated_at VARCHAR(32) NOT NULL,
            mode VARCHAR(16) NOT NULL,
            status VARCHAR(16) NOT NULL,
            input_text TEXT NOT NULL,
            settings TEXT NOT NULL,
            aggregate TEXT,
            wall_ms DOUBLE PRECISION
        )""",
        "CREATE INDEX runs_created ON runs (created_at)",
        """CREATE TABLE branches (
            run_id VARCHAR(64) NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            branch_id VARCHAR(512) NOT NULL,
            attempt INTEGER NOT NULL,
            status VARCHAR(16) NOT NULL,
            engine VARCHAR(512) NOT NULL,
            score DOUBLE PRECISION,
            data TEXT NOT NULL,
            created_at VARCHAR(32) NOT NULL,
            PRIMARY KEY (run_id, branch_id, attempt)
        )""",
        """CREATE TABLE cache (
            key VARCHAR(64) PRIMARY KEY,
            engine VARCHAR(512) NOT NULL,
            data TEXT NOT NULL,
            created_at VARCHAR(32) NOT NULL
        )""",
    ]),
    # Which process runs it: on start, only runs whose process is gone are marked interrupted.
    ("0002_run_owner", ["ALTER TABLE runs ADD COLUMN owner VARCHAR(128)"]),
    # Translations: the chrF agreement matrix, kept so that reopening a run does not compute it again.
    ("0003_run_agreement", ["ALTER TABLE runs ADD COLUMN agreement TEXT"]),
    # Batches handed to the providers' batch APIs: waiting until collected, whatever happens to the process.
    ("0004_provider_batches", [
        """CREATE TABLE provider_batches (
            job_id VARCHAR(64) PRIMARY KEY,
            created_at VARCHAR(32) NOT NULL,
            updated_at VARCHAR(32) NOT NULL,
            status VARCHAR(16) NOT NULL,
            out_path TEXT NOT NULL,
            parts TEXT NOT NULL,
            job TEXT NOT NULL
        )""",
    ]),
    # Human verdicts: blind votes between two outputs of one run (or on one source segment of a translation).
    ("0005_votes", [
        """CREATE TABLE votes (
            vote_id VARCHAR(64) PRIMARY KEY,
            run_id VARCHAR(64) NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            created_at VARCHAR(32) NOT NULL,
            voter VARCHAR(128) NOT NULL,
            left_branch VARCHAR(512) NOT NULL,
            right_branch VARCHAR(512) NOT NULL,
            outcome VARCHAR(16) NOT NULL,
            segment INTEGER
        )""",
        "CREATE INDEX votes_run ON votes (run_id)",
    ]),
]


class StorageError(Exception):
    """The history could not be read or written; results still show, with a warning."""


def database_url(env: dict[str, str] | None = None) -> str:
    """PARALLAX_DATABASE_URL, else a SQLite file in PARALLAX_HOME — as they are now, not when Parallax was imported."""
    env = dict(os.environ) if env is None else env
    return env.get("PARALLAX_DATABASE_URL") or f"sqlite:///{parallax_home(env) / 'history.db'}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def clean(text: str) -> str:
    """NUL bytes: PostgreSQL refuses them in text and SQLite keeps them; strip so both behave alike."""
    return text.replace("\x00", "")


def scrub(value: Any) -> Any:
    """NUL bytes out of every string inside a JSON-able value."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def dump(value: Any) -> str:
    return json.dumps(scrub(value), ensure_ascii=False)


OWNER = f"{socket.gethostname()}:{os.getpid()}"


class Database:
    """The connection and the schema; each table's methods are in runs.py, jobs.py and cache.py."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        try:
            self.pool = Pool(self.url, on_connect=_sqlite_pragmas)
            self.dialect = self.pool.dialect
            self._migrate()
        except (SQLError, OSError) as exc:
            raise StorageError(f"history database unavailable: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self.pool.transaction() as conn:
                yield conn
        except SQLError as exc:
            raise StorageError(f"history database error: {exc}") from None

    def _migrate(self) -> None:
        with self.pool.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(name VARCHAR(128) PRIMARY KEY, applied_at VARCHAR(32) NOT NULL)")
            done = {row[0] for row in conn.rows("SELECT name FROM schema_migrations")}
            for name, statements in MIGRATIONS:
                if name in done:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (:n, :t)",
                             {"n": name, "t": now()})


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    # WAL lets readers and one writer work at once; the busy timeout makes a second writer wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.create_function("parallax_fold", 1, _fold, deterministic=True)


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()
