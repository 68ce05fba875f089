"""Run history that loses nothing: runs, every branch attempt and the call cache, in SQLite or PostgreSQL.

SQLAlchemy Core with bound parameters only. The schema changes through an append-only list of named
migrations. A run is written when it starts; each branch the moment it finishes.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .config import parallax_home
from .results import Aggregate, BranchResult, BranchSpec

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
]


class StorageError(Exception):
    """The history could not be read or written; results still show, with a warning."""


def database_url(env: dict[str, str] | None = None) -> str:
    """PARALLAX_DATABASE_URL, else a SQLite file in PARALLAX_HOME — as they are now, not when Parallax was imported."""
    env = dict(os.environ) if env is None else env
    return env.get("PARALLAX_DATABASE_URL") or f"sqlite:///{parallax_home(env) / 'history.db'}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _clean(text: str) -> str:
    """NUL bytes: PostgreSQL refuses them in text and SQLite keeps them; strip so both behave alike."""
    return text.replace("\x00", "")


def _scrub(value: Any) -> Any:
    """NUL bytes out of every string inside a JSON-able value."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _dump(value: Any) -> str:
    return json.dumps(_scrub(value), ensure_ascii=False)


@dataclass
class RunRecord:
    """A stored run: what went in, what came out, and each branch's attempts (oldest first)."""

    run_id: str
    created_at: str
    mode: str
    status: str
    input_text: str
    settings: dict[str, Any]
    aggregate: Aggregate | None
    wall_ms: float | None
    branches: list[BranchSpec]
    results: dict[str, BranchResult]  # the latest attempt of each branch
    attempts: dict[str, list[BranchResult]]
    agreement: dict[str, dict[str, float]]  # translations: engine → engine → chrF
    position_effect: dict[str, float] = field(default_factory=dict)  # judge: position label → score effect
    judge_samples: list[dict[str, Any]] = field(default_factory=list)  # each judge call: prompt, raw reply, findings


class Store:
    """One history database. Safe to share between threads (each call takes its own connection)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(self.url, pool_pre_ping=True)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self._migrate()
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise StorageError(f"history database unavailable: {_short(exc)}") from None

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"history database error: {_short(exc)}") from None

    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS schema_migrations "
                                 "(name VARCHAR(128) PRIMARY KEY, applied_at VARCHAR(32) NOT NULL)"))
            done = {row[0] for row in conn.execute(sa.text("SELECT name FROM schema_migrations"))}
            for name, statements in MIGRATIONS:
                if name in done:
                    continue
                for statement in statements:
                    conn.execute(sa.text(statement))
                conn.execute(sa.text("INSERT INTO schema_migrations (name, applied_at) VALUES (:n, :t)"),
                             {"n": name, "t": _now()})

    # --- runs ---

    def start_run(self, run_id: str, mode: str, input_text: str, settings: dict[str, Any],
                  branches: list[BranchSpec]) -> None:
        now = _now()
        with self._tx() as conn:
            conn.execute(sa.text(
                "INSERT INTO runs (run_id, created_at, updated_at, mode, status, input_text, settings, owner) "
                "VALUES (:id, :now, :now, :mode, 'running', :text, :settings, :owner)"),
                {"id": run_id, "now": now, "mode": mode, "text": _clean(input_text), "owner": OWNER,
                 "settings": _dump({**settings, "branches": [asdict(b) for b in branches]})})

    def save_branch(self, run_id: str, result: BranchResult) -> int:
        """Write a finished branch as its next attempt; returns the attempt number (1 for the first)."""
        return self.save_branches(run_id, [result])[0]

    def save_branches(self, run_id: str, results: list[BranchResult]) -> list[int]:
        """Several finished branches in one transaction (one commit), each as its next attempt."""
        rows: list[dict[str, Any]] = [
            {"r": run_id, "b": r.branch_id, "s": r.status, "e": r.engine, "score": r.score,
             "data": _dump(r.to_dict()), "t": _now()} for r in results]  # serialised before the transaction
        with self._tx() as conn:
            found = conn.execute(sa.text("SELECT branch_id, MAX(attempt) FROM branches WHERE run_id = :r "
                                         "GROUP BY branch_id"), {"r": run_id}).all()
            last: dict[str, int] = {str(b): int(a) for b, a in found}
            for row in rows:
                row["a"] = last[row["b"]] = last.get(row["b"], 0) + 1
            conn.execute(sa.text(  # one statement, many rows
                "INSERT INTO branches (run_id, branch_id, attempt, status, engine, score, data, created_at) "
                "VALUES (:r, :b, :a, :s, :e, :score, :data, :t)"), rows)
            conn.execute(sa.text("UPDATE runs SET updated_at = :t WHERE run_id = :r"), {"t": _now(), "r": run_id})
        return [row["a"] for row in rows]

    def update_branch(self, run_id: str, result: BranchResult) -> None:
        """Replace the latest attempt's data (a translation gains its judge score after it finished)."""
        with self._tx() as conn:
            conn.execute(sa.text(
                "UPDATE branches SET status = :s, score = :score, data = :data WHERE run_id = :r AND branch_id = :b "
                "AND attempt = (SELECT MAX(attempt) FROM branches WHERE run_id = :r AND branch_id = :b)"),
                {"s": result.status, "score": result.score, "data": _dump(result.to_dict()), "r": run_id,
                 "b": result.branch_id})

    def save_agreement(self, run_id: str, matrix: dict[str, dict[str, float]],
                       position_effect: dict[str, float] | None = None,
                       judge_samples: list[dict[str, Any]] | None = None) -> None:
        """The chrF matrix and the judge's measured position effect, in the run's `agreement` column (format 2:
        an object with "format": 2; format 1, the bare matrix, is still read)."""
        stored = {"format": 2, "matrix": matrix, "position_effect": position_effect or {},
                  "judge_samples": judge_samples or []}
        with self._tx() as conn:
            conn.execute(sa.text("UPDATE runs SET agreement = :a WHERE run_id = :r"), {"a": _dump(stored), "r": run_id})

    def reopen_run(self, run_id: str) -> None:
        with self._tx() as conn:
            conn.execute(sa.text("UPDATE runs SET status = 'running', updated_at = :t WHERE run_id = :r"),
                         {"t": _now(), "r": run_id})

    def finish_run(self, run_id: str, aggregate: Aggregate | None, wall_ms: float | None,
                   results: list[BranchResult]) -> str:
        """Record the aggregate and whether the run completed, partly failed or failed."""
        ok = sum(r.status == "ok" for r in results)
        if any(r.status == "cancelled" for r in results):
            status = "interrupted"  # stopped, refreshed or closed before the end
        else:
            status = "completed" if results and ok == len(results) else "partial" if ok else "failed"
        with self._tx() as conn:
            conn.execute(sa.text("UPDATE runs SET status = :s, aggregate = :a, wall_ms = :w, updated_at = :t "
                                 "WHERE run_id = :r"),
                         {"s": status, "a": _dump(aggregate.to_dict()) if aggregate else None, "w": wall_ms,
                          "t": _now(), "r": run_id})
        return status

    def mark_interrupted(self, stale_after_s: float = 3600) -> int:
        """Runs left `running` by a killed process or a closed browser; called when the app or CLI starts.

        A run is interrupted when the process that ran it on this machine is gone, or when it has not
        written anything for `stale_after_s` (another machine's process, or a session that was closed).
        """
        cutoff = (datetime.now(UTC) - timedelta(seconds=stale_after_s)).isoformat(timespec="milliseconds")
        with self._tx() as conn:
            rows = conn.execute(sa.text("SELECT run_id, owner, updated_at FROM runs WHERE status = 'running'")).all()
            gone = [run_id for run_id, owner, updated in rows if updated < cutoff or _dead(owner)]
            for run_id in gone:
                conn.execute(sa.text("UPDATE runs SET status = 'interrupted', updated_at = :t WHERE run_id = :r"),
                             {"t": _now(), "r": run_id})
        return len(gone)

    def list_runs(self, mode: str | None = None, status: str | None = None, text: str | None = None,
                  engine: str | None = None, since: str | None = None, min_review_score: float | None = None,
                  min_translation_score: float | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Runs, newest first. Review scores (0–10) and translation scores (0–100) are two columns and two
        filters: a review's 7 and a translation's 70 are never compared."""
        query = ("SELECT run_id, created_at, mode, status, aggregate, input_text, settings FROM runs "
                 "WHERE 1 = 1")
        params: dict[str, Any] = {"limit": limit}
        if mode:
            query += " AND mode = :mode"
            params["mode"] = mode
        if status:
            query += " AND status = :status"
            params["status"] = status
        if since:
            query += " AND created_at >= :since"
            params["since"] = since
        if text:
            # The same case folding on both sides, in the database. SQLite's own LOWER() knows only ASCII ("Ü"
            # stays "Ü"): there it is Python's casefold, registered on every connection. PostgreSQL's LOWER()
            # knows Unicode but not the Greek final sigma, folded here as casefold does.
            fold = ("parallax_fold({})" if self.engine.dialect.name == "sqlite"
                    else "REPLACE(LOWER({}), 'ς', 'σ')")
            query += f" AND {fold.format('input_text')} LIKE {fold.format(':text')} ESCAPE '\\'"
            params["text"] = "%" + _like(text) + "%"
        if engine:
            query += " AND run_id IN (SELECT run_id FROM branches WHERE engine LIKE :engine ESCAPE '\\')"
            params["engine"] = "%" + _like(engine) + "%"
        query += " ORDER BY created_at DESC LIMIT :limit"
        with self._tx() as conn:
            rows = conn.execute(sa.text(query), params).mappings().all()
        out = []
        for row in rows:
            aggregate = json.loads(row["aggregate"]) if row["aggregate"] else None
            score = aggregate.get("score") if aggregate else None
            translate = row["mode"] == "translate"
            floor = min_translation_score if translate else min_review_score
            other = min_review_score if translate else min_translation_score
            if other is not None or (floor is not None and (score is None or score < floor)):
                continue
            settings = json.loads(row["settings"])
            out.append({
                "run_id": row["run_id"], "created_at": row["created_at"], "mode": row["mode"],
                "status": row["status"], "review_score": None if translate else score,
                "translation_score": score if translate else None,
                "n_ok": aggregate.get("n_ok") if aggregate else None,
                "n_total": len(settings.get("branches", [])),
                "engines": ", ".join(dict.fromkeys(b["engine"] for b in settings.get("branches", []))),
                "text": " ".join(row["input_text"][:200].split())[:80],
            })
        return out

    def load_run(self, run_id: str) -> RunRecord:
        with self._tx() as conn:
            row = conn.execute(sa.text("SELECT * FROM runs WHERE run_id = :r"), {"r": run_id}).mappings().first()
            if row is None:
                raise StorageError(f"no run {run_id!r} in the history")
            rows = conn.execute(sa.text("SELECT branch_id, data FROM branches WHERE run_id = :r "
                                        "ORDER BY attempt"), {"r": run_id}).all()
        settings = json.loads(row["settings"])
        attempts: dict[str, list[BranchResult]] = {}
        for branch_id, data in rows:
            attempts.setdefault(branch_id, []).append(BranchResult.from_dict(json.loads(data)))
        aggregate = Aggregate.from_dict(json.loads(row["aggregate"])) if row["aggregate"] else None
        return RunRecord(
            run_id=row["run_id"], created_at=row["created_at"], mode=row["mode"], status=row["status"],
            input_text=row["input_text"], settings=settings, aggregate=aggregate, wall_ms=row["wall_ms"],
            branches=[BranchSpec(**b) for b in settings.get("branches", [])],
            results={b: tries[-1] for b, tries in attempts.items()}, attempts=attempts,
            **_agreement(json.loads(row["agreement"]) if row["agreement"] else {}),
        )

    def delete_run(self, run_id: str) -> bool:
        with self._tx() as conn:
            conn.execute(sa.text("DELETE FROM branches WHERE run_id = :r"), {"r": run_id})
            return conn.execute(sa.text("DELETE FROM runs WHERE run_id = :r"), {"r": run_id}).rowcount > 0

    # --- provider batches ---

    def save_provider_batch(self, job_id: str, out_path: str, parts: list[dict[str, Any]],
                            job: dict[str, Any]) -> None:
        now = _now()
        with self._tx() as conn:
            conn.execute(sa.text("INSERT INTO provider_batches (job_id, created_at, updated_at, status, out_path, "
                                 "parts, job) VALUES (:i, :t, :t, 'waiting', :o, :p, :j)"),
                         {"i": job_id, "t": now, "o": out_path, "p": _dump(parts), "j": _dump(job)})

    def update_provider_batch(self, job_id: str, parts: list[dict[str, Any]], status: str = "waiting") -> None:
        with self._tx() as conn:
            conn.execute(sa.text("UPDATE provider_batches SET parts = :p, status = :s, updated_at = :t "
                                 "WHERE job_id = :i"), {"p": _dump(parts), "s": status, "t": _now(), "i": job_id})

    def provider_batches(self, status: str | None = "waiting") -> list[dict[str, Any]]:
        """Provider batches, newest first: each with its parts (one provider batch per engine) and its job."""
        query = "SELECT job_id, created_at, updated_at, status, out_path, parts, job FROM provider_batches"
        with self._tx() as conn:
            rows = conn.execute(sa.text(query + (" WHERE status = :s" if status else "") + " ORDER BY created_at DESC"),
                                {"s": status} if status else {}).mappings().all()
        return [{**row, "parts": json.loads(row["parts"]), "job": json.loads(row["job"])} for row in rows]

    # --- the cache of identical calls ---

    def cache_get(self, key: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            data = conn.execute(sa.text("SELECT data FROM cache WHERE key = :k"), {"k": key}).scalar()
        return json.loads(data) if data else None

    def cache_put(self, key: str, engine: str, data: dict[str, Any]) -> None:
        self.cache_put_many([(key, engine, data)])

    def cache_put_many(self, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Several answers in one transaction (one commit); keys already there are kept as they are."""
        rows = {key: {"k": key, "e": engine, "d": _dump(data), "t": _now()} for key, engine, data in entries}
        if not rows:
            return
        with self._tx() as conn:
            found = conn.execute(sa.text("SELECT key FROM cache WHERE key IN :keys").bindparams(
                sa.bindparam("keys", expanding=True)), {"keys": list(rows)}).scalars().all()
            kept = set(found)
            new = [row for key, row in rows.items() if key not in kept]
            if new:
                conn.execute(sa.text("INSERT INTO cache (key, engine, data, created_at) VALUES (:k, :e, :d, :t)"),
                             new)


class GroupedCache:
    """The call cache for a batch: answers are written in groups (one commit per `size` answers, or when the
    oldest has waited `wait_s`), not one commit per call — a commit per call was 13% of a batch's CPU. Reads see
    the answers still waiting. `flush()` at the end; a kill loses at most one group (a missed saving only)."""

    def __init__(self, store: Store, size: int = 200, wait_s: float = 2.0) -> None:
        self.store, self.size, self.wait_s = store, size, wait_s
        self._pending: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self._since = 0.0
        self._lock = threading.Lock()

    def cache_get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            waiting = self._pending.get(key)
        return waiting[2] if waiting is not None else self.store.cache_get(key)

    def cache_put(self, key: str, engine: str, data: dict[str, Any]) -> None:
        with self._lock:
            if not self._pending:
                self._since = time.monotonic()
            self._pending[key] = (key, engine, data)
            due = len(self._pending) >= self.size or time.monotonic() - self._since >= self.wait_s
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            entries, self._pending = list(self._pending.values()), {}
        if entries:
            self.store.cache_put_many(entries)


OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _dead(owner: str | None) -> bool:
    """Whether the process that owned a run on this machine has ended."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _agreement(stored: dict[str, Any]) -> dict[str, Any]:
    if stored.get("format") == 2:
        return {"agreement": stored["matrix"], "position_effect": stored.get("position_effect") or {},
                "judge_samples": stored.get("judge_samples") or []}
    return {"agreement": stored, "position_effect": {}, "judge_samples": []}


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return text[:200]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once; the busy timeout makes a second writer wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.create_function("parallax_fold", 1, _fold, deterministic=True)


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


_lock = threading.Lock()
_stores: dict[str, Store] = {}


def open_store(url: str | None = None) -> Store:
    """One Store per database URL per process (engines hold connection pools)."""
    url = url or database_url()
    with _lock:
        if url not in _stores:
            _stores[url] = Store(url)
        return _stores[url]
