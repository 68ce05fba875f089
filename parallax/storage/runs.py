"""Runs and their branches in the history: written as they happen, listed with filters, reopened, deleted."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from parallax.results import Aggregate, BranchResult, BranchSpec
from parallax.storage.database import OWNER, Database, StorageError, clean, dump, now


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
    units: list[str] = field(default_factory=list)  # translations: the source segments every candidate was scored on


# What differs between the two databases in a listing's filters. SQLite's own LOWER() knows only ASCII ("Ü" stays
# "Ü"): there it is Python's casefold, registered on every connection. PostgreSQL's LOWER() knows Unicode but not
# the Greek final sigma, folded here as casefold does. A run's score is read from its aggregate's JSON.
_FOLD = {"sqlite": "parallax_fold({})", "postgresql": "REPLACE(LOWER({}), 'ς', 'σ')"}
_SCORE = {"sqlite": "CAST(JSON_EXTRACT(aggregate, '$.score') AS REAL)",
          "postgresql": "CAST(CAST(aggregate AS JSON) ->> 'score' AS DOUBLE PRECISION)"}


class Runs(Database):
    """Runs and their branches, every attempt kept."""

    def start_run(self, run_id: str, mode: str, input_text: str, settings: dict[str, Any],
                  branches: list[BranchSpec]) -> None:
        at = now()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, created_at, updated_at, mode, status, input_text, settings, owner) "
                "VALUES (:id, :now, :now, :mode, 'running', :text, :settings, :owner)",
                {"id": run_id, "now": at, "mode": mode, "text": clean(input_text), "owner": OWNER,
                 "settings": dump({**settings, "branches": [asdict(b) for b in branches]})})

    def save_branch(self, run_id: str, result: BranchResult) -> int:
        """Write a finished branch as its next attempt; returns the attempt number (1 for the first)."""
        return self.save_branches(run_id, [result])[0]

    def save_branches(self, run_id: str, results: list[BranchResult]) -> list[int]:
        """Several finished branches in one transaction (one commit), each as its next attempt."""
        rows: list[dict[str, Any]] = [
            {"r": run_id, "b": r.branch_id, "s": r.status, "e": r.engine, "score": r.score,
             "data": dump(r.to_dict()), "t": now()} for r in results]  # serialised before the transaction
        with self.transaction() as conn:
            found = conn.rows("SELECT branch_id, MAX(attempt) FROM branches WHERE run_id = :r GROUP BY branch_id",
                              {"r": run_id})
            last: dict[str, int] = {str(b): int(a) for b, a in found}
            for row in rows:
                row["a"] = last[row["b"]] = last.get(row["b"], 0) + 1
            conn.execute(  # one statement, many rows
                "INSERT INTO branches (run_id, branch_id, attempt, status, engine, score, data, created_at) "
                "VALUES (:r, :b, :a, :s, :e, :score, :data, :t)", rows)
            conn.execute("UPDATE runs SET updated_at = :t WHERE run_id = :r", {"t": now(), "r": run_id})
        return [row["a"] for row in rows]

    def update_branch(self, run_id: str, result: BranchResult) -> None:
        """Replace the latest attempt's data (a translation gains its judge score after it finished)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE branches SET status = :s, score = :score, data = :data WHERE run_id = :r AND branch_id = :b "
                "AND attempt = (SELECT MAX(attempt) FROM branches WHERE run_id = :r AND branch_id = :b)",
                {"s": result.status, "score": result.score, "data": dump(result.to_dict()), "r": run_id,
                 "b": result.branch_id})

    def save_agreement(self, run_id: str, matrix: dict[str, dict[str, float]],
                       position_effect: dict[str, float] | None = None,
                       judge_samples: list[dict[str, Any]] | None = None, units: list[str] | None = None) -> None:
        """The chrF matrix and the judge's measured position effect, in the run's `agreement` column (format 2:
        an object with "format": 2; format 1, the bare matrix, is still read)."""
        stored = {"format": 2, "matrix": matrix, "position_effect": position_effect or {},
                  "judge_samples": judge_samples or [], "units": units or []}
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET agreement = :a WHERE run_id = :r", {"a": dump(stored), "r": run_id})

    def reopen_run(self, run_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = 'running', updated_at = :t WHERE run_id = :r",
                         {"t": now(), "r": run_id})

    def finish_run(self, run_id: str, aggregate: Aggregate | None, wall_ms: float | None,
                   results: list[BranchResult]) -> str:
        """Record the aggregate and whether the run completed, partly failed or failed."""
        ok = sum(r.status == "ok" for r in results)
        if any(r.status == "cancelled" for r in results):
            status = "interrupted"  # stopped, refreshed or closed before the end
        else:
            status = "completed" if results and ok == len(results) else "partial" if ok else "failed"
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = :s, aggregate = :a, wall_ms = :w, updated_at = :t "
                                 "WHERE run_id = :r",
                         {"s": status, "a": dump(aggregate.to_dict()) if aggregate else None, "w": wall_ms,
                          "t": now(), "r": run_id})
        return status

    def mark_interrupted(self, stale_after_s: float = 3600) -> int:
        """Runs left `running` by a killed process or a closed browser; called when the app or CLI starts.

        A run is interrupted when the process that ran it on this machine is gone, or when it has not
        written anything for `stale_after_s` (another machine's process, or a session that was closed).
        """
        cutoff = (datetime.now(UTC) - timedelta(seconds=stale_after_s)).isoformat(timespec="milliseconds")
        with self.transaction() as conn:
            rows = conn.rows("SELECT run_id, owner, updated_at FROM runs WHERE status = 'running'")
            gone = [run_id for run_id, owner, updated in rows if updated < cutoff or _dead(owner)]
            for run_id in gone:
                conn.execute("UPDATE runs SET status = 'interrupted', updated_at = :t WHERE run_id = :r",
                             {"t": now(), "r": run_id})
        return len(gone)

    def list_runs(self, mode: str | None = None, status: str | None = None, text: str | None = None,
                  engine: str | None = None, since: str | None = None, min_review_score: float | None = None,
                  min_translation_score: float | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Runs, newest first. Review scores (0–10) and translation scores (0–100) are two columns and two
        filters: a review's 7 and a translation's 70 are never compared."""
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        for column, value in (("mode", mode), ("status", status)):
            if value:
                where.append(f"{column} = :{column}")
                params[column] = value
        if since:
            where.append("created_at >= :since")
            params["since"] = since
        if text:
            fold = _FOLD[self.dialect]
            where.append(f"{fold.format('input_text')} LIKE {fold.format(':text')} ESCAPE '\\'")
            params["text"] = "%" + _like(text) + "%"
        if engine:
            where.append("run_id IN (SELECT run_id FROM branches WHERE engine LIKE :engine ESCAPE '\\')")
            params["engine"] = "%" + _like(engine) + "%"
        # Score floors in the query, before the limit (a floor applied after it found fewer runs than there are).
        for name, floor in (("review", min_review_score), ("translate", min_translation_score)):
            if floor is not None:
                where.append(f"mode = :{name}_mode AND {_SCORE[self.dialect]} >= :{name}_floor")
                params.update({f"{name}_mode": name, f"{name}_floor": floor})
        query = ("SELECT run_id, created_at, mode, status, aggregate, input_text, settings FROM runs"
                 + (" WHERE " + " AND ".join(where) if where else "")
                 + " ORDER BY created_at DESC LIMIT :limit")
        with self.transaction() as conn:
            rows = conn.records(query, params)
        out = []
        for row in rows:
            aggregate = json.loads(row["aggregate"]) if row["aggregate"] else None
            score = aggregate.get("score") if aggregate else None
            translate = row["mode"] == "translate"
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
        with self.transaction() as conn:
            found = conn.records("SELECT * FROM runs WHERE run_id = :r", {"r": run_id})
            if not found:
                raise StorageError(f"no run {run_id!r} in the history")
            row = found[0]
            rows = conn.rows("SELECT branch_id, data FROM branches WHERE run_id = :r ORDER BY attempt", {"r": run_id})
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
        with self.transaction() as conn:
            conn.execute("DELETE FROM branches WHERE run_id = :r", {"r": run_id})
            return conn.execute("DELETE FROM runs WHERE run_id = :r", {"r": run_id})> 0


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
                "judge_samples": stored.get("judge_samples") or [], "units": stored.get("units") or []}
    return {"agreement": stored, "position_effect": {}, "judge_samples": [], "units": []}


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
