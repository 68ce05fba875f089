"""A batch's results file: one row per document as soon as it is done, every document's branches beside it,
resuming from what is already written, and the summary read back from it."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parallax.batch.rows import BatchError, Row
from parallax.costs import Cost, Priced, RunCost, run_cost
from parallax.export import safe_cell
from parallax.reducers import reduce
from parallax.results import BranchResult
from parallax.run.plan import RunPlan
from parallax.stats import Estimate, PairedTest, compare_columns

# Documents can be long: the csv module's default cell limit (128 kB) is below our text limit.
csv.field_size_limit(64 * 1024 * 1024)


@dataclass
class BatchProgress:
    total: int
    done: int = 0
    failed_rows: int = 0
    skipped: int = 0  # finished in an earlier, interrupted run of the same batch
    cached: int = 0  # branch answers that came from the history's cache (no call, no cost)
    cost: RunCost = field(default_factory=lambda: RunCost(Cost()))  # this run's documents, their judge included
    started: float = field(default_factory=time.monotonic)
    failures: dict[str, int] = field(default_factory=dict)  # cause → count

    @property
    def eta_s(self) -> float | None:
        finished = self.done - self.skipped
        if finished <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / finished * (self.total - self.done)


def check_output(path: Path, option: str = "--out") -> None:
    """The results file can be written: its folder exists, it is not a folder, it is writable. Nothing is left
    behind by the check."""
    if path.is_dir():
        raise BatchError(f"{option} {path} is a folder: give a file name, e.g. {path / 'results.csv'}")
    if not path.parent.exists():
        raise BatchError(f"{option} {path}: the folder {path.parent} does not exist")
    existed = path.exists()
    try:
        path.open("a").close()
    except OSError as exc:
        raise BatchError(f"{option} {path} cannot be written: {exc.strerror or exc}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _earlier_rows(out: Path) -> tuple[list[str], list[dict[str, str]], bool]:
    """The results file of an earlier run: its columns, its complete rows, and whether a row was cut off (the
    process was killed while writing it)."""
    if not out.exists() or out.stat().st_size == 0:
        return [], [], False
    with out.open("rb") as handle:
        handle.seek(-1, 2)
        torn = handle.read(1) != b"\n"
    with out.open(encoding="utf-8", newline="", errors="replace") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    return columns, rows[:-1] if torn and rows else rows, torn


def _kept(rows: list[dict[str, str]], retry_failed: bool) -> list[dict[str, str]]:
    """The latest row of each document, without those that failed when they are to be run again."""
    latest = {r.get("id", ""): r for r in rows}
    return [r for r in latest.values() if not (retry_failed and r.get("status") == "failed")]


def finished_ids(out: Path, retry_failed: bool = True) -> set[str]:
    """Documents an earlier run of this batch finished (as written: ids are stored formula-safe), to resume
    without redoing them. Documents that failed are not finished when they are to be retried."""
    return {r["id"] for r in _kept(_earlier_rows(out)[1], retry_failed) if r.get("id")}


def prepare_resume(out: Path, retry_failed: bool = True) -> dict[str, str]:
    """Before resuming: the results file keeps one row per id (the latest), drops a row cut off by a kill and,
    when failed documents are retried, their old rows; rewritten atomically (a kill leaves the old or the new
    file, never half of one). Returns the ids not to run again, with their status there."""
    columns, rows, torn = _earlier_rows(out)
    keep = _kept(rows, retry_failed)
    if torn or len(keep) != len(rows):
        temporary = out.with_name(out.name + ".tmp")
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(keep)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, out)
    return {r["id"]: r.get("status", "") for r in keep if r.get("id")}


@dataclass
class Pending:
    row: Row
    results: list[BranchResult] = field(default_factory=list)
    remaining: int = 0
    judge_calls: list[Priced] = field(default_factory=list)  # a translation's judge calls, for their cost
# cost_usd is the document's whole cost (its judge included), empty when some call's cost is unknown: then
# cost_at_least_usd is what is known of it and unpriced_calls how many calls are not; the judge's own likewise.
OUT_COLUMNS = ("id", "row", "status", "aggregate_method", "aggregate_score", "n_ok", "n_scored", "n_total", "spread",
               "best", "cost_usd", "cost_at_least_usd", "unpriced_calls", "judge_cost_usd", "judge_cost_at_least_usd",
               "judge_unpriced_calls", "error")


class BatchWriter:
    """Appends one row per finished document and flushes it: partial results are on disk as they arrive."""

    def __init__(self, out: Path, branch_columns: list[str], append: bool) -> None:
        self.columns = [*OUT_COLUMNS, *branch_columns]
        if append:  # rows go under the file's own header (one written before a column was added, too)
            with out.open(encoding="utf-8", newline="") as handle:
                self.columns = next(csv.reader(handle), []) or self.columns
        self.handle = out.open("a" if append else "w", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.handle, self.columns, extrasaction="ignore")
        if not append:
            self.writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: "" if v is None else safe_cell(v) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def document_row(doc: Pending, plan: RunPlan) -> dict[str, Any]:
    ordered = doc.results
    aggregate = reduce(ordered, plan.reducer)
    ok = sum(r.status == "ok" for r in ordered)
    status = "ok" if ok == len(ordered) else "partial" if ok else "failed"
    row: dict[str, Any] = {
        "id": doc.row.doc_id, "row": doc.row.number, "status": status, "aggregate_method": aggregate.method,
        "aggregate_score": aggregate.score, "n_ok": aggregate.n_ok, "n_scored": aggregate.n_scored,
        "n_total": aggregate.n_total,
        "spread": aggregate.spread, "best": aggregate.best,
        **run_cost(ordered, doc.judge_calls).columns(),
        "error": "; ".join(sorted({r.error for r in ordered if r.error}))[:500] or None,
    }
    for r in ordered:
        row[f"score:{r.branch_id}"] = r.score
        if plan.mode == "translate":
            row[f"text:{r.branch_id}"] = r.text if r.status == "ok" else None
            row[f"non_translation:{r.branch_id}"] = r.non_translation
        else:
            row[f"summary:{r.branch_id}"] = r.summary or None
            row[f"issues:{r.branch_id}"] = len(r.issues) if r.status == "ok" else None
    return row


def score_summary(out: Path) -> tuple[dict[str, Estimate], list[PairedTest]]:
    """Over every document of a results file (resumed ones included): each branch's mean score with its 95%
    interval, and the leading branch against the others, paired by document."""
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    names = [c for c in reader.fieldnames or [] if c.startswith("score:")]
    return compare_columns({n.removeprefix("score:"): [_number(row.get(n)) for row in rows] for n in names})


def _number(cell: str | None) -> float | None:
    try:
        return float(cell) if cell not in (None, "") else None
    except ValueError:
        return None


def branches_path(out: Path) -> Path:
    """Beside the results file: one JSON line per finished document with all its branches' results."""
    return out.with_name(out.name.removesuffix(".csv") + ".branches.jsonl")


def document_branches(out: Path, doc_id: str) -> list[BranchResult] | None:
    """One document's branches as the batch left them (its latest run), or None."""
    path = branches_path(out)
    if not path.exists():
        return None
    found = None
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a kill
            if str(data.get("id")) == doc_id:
                found = data["results"]
    return None if found is None else [BranchResult.from_dict(r) for r in found]


def finished(row: Row, results: list[BranchResult]) -> tuple[str, int]:
    """What `BatchOutput.record` takes of a finished document, made where it ran (a worker sends it ready): its
    line of the branches file (all its branches' results) and how many of them the cache answered."""
    line = json.dumps({"id": row.doc_id, "results": [r.to_dict() for r in results]}, ensure_ascii=False) + "\n"
    return line, sum(r.cached for r in results)


def branch_columns(plan: RunPlan) -> list[str]:
    """Per branch: its score (the judge's, for a translation), and its translation and non-translation flag, or
    its review's summary and issue count."""
    extra = ("text", "non_translation") if plan.mode == "translate" else ("summary", "issues")
    return [f"{name}:{b.branch_id}" for b in plan.branches for name in ("score", *extra)]


class BatchOutput:
    """The results file, its branches file and the batch's progress, with one writer (thread-safe): documents
    finished earlier are counted, not run; invalid rows are written, named, not called; each finished document is
    written whole."""

    def __init__(self, plan: RunPlan, out: Path, total: int, retry_failed: bool = True,
                 on_document: Callable[[dict[str, Any], BatchProgress], None] | None = None) -> None:
        self.done_ids = prepare_resume(out, retry_failed)
        self.writer = BatchWriter(out, branch_columns(plan), append=out.exists() and out.stat().st_size > 0)
        self.branches = branches_path(out).open("a", encoding="utf-8")  # every document's branches, for a look
        self.progress = BatchProgress(total=total)
        self.on_document = on_document
        self.lock = threading.Lock()  # with workers, rows arrive on a collector thread while invalid ones are written

    def finish(self, row: Row, results: list[BranchResult], written: dict[str, Any]) -> None:
        self.record(*finished(row, results), written)

    def record(self, line: str | None, cached: int, written: dict[str, Any]) -> None:
        """A document done: its line of the branches file (None for an invalid row) and its branches answered
        from the cache (`finished`), its row of the results file."""
        progress = self.progress
        with self.lock:
            if line is not None:
                self.branches.write(line)
                self.branches.flush()
            progress.done += 1
            progress.cached += cached
            if written["status"] != "ok":
                progress.failed_rows += 1
                cause = written["error"] or written["status"]
                key = cause.split(";")[0].split(":", 1)[-1].strip()[:60] if written["error"] else written["status"]
                progress.failures[key] = progress.failures.get(key, 0) + 1
            progress.cost += RunCost.from_columns(written)
            self.writer.write(written)
            if self.on_document is not None:
                self.on_document(written, progress)

    def to_run(self, rows: Iterator[Row]) -> Iterator[Row]:
        """The rows to call: those finished earlier are counted, invalid ones written, named, not called."""
        for row in rows:
            earlier = self.done_ids.get(safe_cell(row.doc_id))
            if earlier is not None:
                with self.lock:
                    self.progress.done += 1
                    self.progress.skipped += 1
                    self.progress.failed_rows += earlier != "ok"  # still failed or invalid: counted as such again
            elif row.error is not None:
                self.record(None, 0, {"id": row.doc_id, "row": row.number, "status": "invalid", "error": row.error})
            else:
                yield row

    def close(self) -> None:
        self.writer.close()
        self.branches.close()
