"""Batches: thousands of documents through the same branches, near the concurrency-bound ideal, in flat memory.

A batch does not make one LangGraph Send per item (framework CPU per task would dominate, DESIGN.md §3):
a fixed pool of workers pulls (document, branch) jobs from a bounded queue and runs each through the one
shared branch runner; rows are read lazily, and each document is written to the output file as soon as its
branches are done, then dropped. The output file is also the record for resuming: ids already in it are
not run again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from . import config as config_module
from .assess import assess
from .documents import InputError, read_document, read_file
from .export import safe_cell
from .pipeline import review_branch, translate_branch
from .reducers import reduce
from .results import BranchResult, BranchSpec
from .run import RunPlan, run_context
from .stats import Comparison, Estimate, compare_columns
from .storage import GroupedCache, Store

# Documents can be long: the csv module's default cell limit (128 kB) is below our text limit.
csv.field_size_limit(64 * 1024 * 1024)


class BatchError(ValueError):
    """The batch cannot start (no such column, empty file...): nothing was called."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row (the header is not counted)
    doc_id: str
    text: str | None
    error: str | None = None  # bad row: named, not called


@dataclass
class BatchProgress:
    total: int
    done: int = 0
    failed_rows: int = 0
    skipped: int = 0  # finished in an earlier, interrupted run of the same batch
    cached: int = 0  # branch answers that came from the history's cache (no call, no cost)
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)
    failures: dict[str, int] = field(default_factory=dict)  # cause → count

    @property
    def eta_s(self) -> float | None:
        finished = self.done - self.skipped
        if finished <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / finished * (self.total - self.done)


def _decoded_lines(handle: IO[bytes], bad_lines: set[int]) -> Iterator[str]:
    """Lines as text; a line ends at LF, CRLF or a lone CR (files that mix them are common)."""
    number = 0
    for chunk in handle:
        for raw in chunk.splitlines(keepends=True):
            number += 1
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                bad_lines.add(number)
                yield raw.decode("utf-8", errors="replace")


def _check_text_file(path: Path) -> None:
    """A file that is plainly not text (an image, a spreadsheet, an archive) stops before anything runs."""
    with path.open("rb") as handle:
        sample = handle.read(8192)
    undecodable = sample.decode("utf-8", "replace").count("\ufffd")
    if sample.count(b"\0") > 2 + len(sample) // 100 or undecodable > 2 + len(sample) // 10:
        raise BatchError(f"{path} is not a text file (binary data): give a UTF-8 CSV or JSONL file")


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


def read_rows(path: Path, column: str, id_column: str | None = None, documents: Path | None = None) -> Iterator[Row]:
    """Rows of a CSV or JSONL file, lazily: the text in `column`, or, where that cell is empty, the text of the
    document file the `path` cell names, inside the folder `documents` (None: `path` cells are refused, as in the
    app, where a batch file comes from whoever opens the page). Raises BatchError when the batch cannot start at
    all; a row that cannot be read is that row's error."""
    if not path.exists():
        raise BatchError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise BatchError(f"{path} is empty")
    _check_text_file(path)
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    limit = config_module.MAX_CHARS
    handle = path.open("rb")
    bad_lines: set[int] = set()
    lines = _decoded_lines(handle, bad_lines)

    def check(number: int, doc_id: str, value: Any, line: int, named: Any = None) -> Row:
        if line in bad_lines:
            return Row(number, doc_id, None, f"row {number}: bytes that are not UTF-8 on line {line} (Latin-1 or "
                                             "Windows-1252? save the file as UTF-8)")
        text = "" if value is None else str(value)
        if not text.strip() and named:
            if documents is None:
                return Row(number, doc_id, None, f"row {number}: the {PATH_COLUMN!r} cell names a document file, "
                                                 f"which only `parallax batch` reads; here, put the text in the "
                                                 f"{column!r} column (nothing was read)")
            try:
                text = read_document(read_file(str(named), within=documents), str(named)).text
            except InputError as exc:
                return Row(number, doc_id, None, f"row {number}: {exc}")
        if "\0" in text:
            return Row(number, doc_id, None, f"row {number}: a NUL byte at character {text.index(chr(0)) + 1} of "
                                             f"the {column!r} cell (not sent)")
        if not text.strip():
            return Row(number, doc_id, None, f"row {number}: the {column!r} cell is empty")
        if len(text) > limit:
            return Row(number, doc_id, None, f"row {number}: {len(text):,} characters, over the limit of {limit:,}")
        return Row(number, doc_id, text)

    def rows() -> Iterator[Row]:
        try:
            if jsonl:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield Row(number, str(number), None, f"row {number}: not valid JSON ({exc.msg})")
                        continue
                    except RecursionError:
                        yield Row(number, str(number), None, f"row {number}: JSON nested too deeply to read")
                        continue
                    if not isinstance(item, dict) or (column not in item and PATH_COLUMN not in item):
                        yield Row(number, str(number), None, f"row {number}: no {column!r} or {PATH_COLUMN!r} field")
                        continue
                    doc_id = str(item.get(id_column or "id", number))
                    yield check(number, doc_id, item.get(column), number, item.get(PATH_COLUMN))
            else:
                reader = csv.DictReader(lines, strict=True)
                if reader.fieldnames is None:
                    raise BatchError(f"{path} has no header row")
                if column not in reader.fieldnames and PATH_COLUMN not in reader.fieldnames:
                    raise BatchError(f"{path} has no column {column!r} (the text) or {PATH_COLUMN!r} (a document "
                                     f"file); its columns are: {', '.join(reader.fieldnames)}")
                use_id = id_column or ("id" if "id" in reader.fieldnames else None)
                for number, record in enumerate(reader, start=1):
                    doc_id = str(record.get(use_id) or number) if use_id else str(number)
                    yield check(number, doc_id, record.get(column), reader.line_num, record.get(PATH_COLUMN))
        finally:
            handle.close()

    iterator = rows()
    first = next(iterator, None)  # fail fast on a missing column or header, before anything runs
    if first is None:
        raise BatchError(f"{path} has no rows")

    def all_rows() -> Iterator[Row]:
        yield first
        yield from iterator

    return all_rows()


def sample_texts(path: Path, column: str, id_column: str | None = None, documents: Path | None = None,
                 n: int = 20) -> list[str]:
    """The texts of the first `n` valid rows (to estimate a batch's cost), read lazily."""
    return list(itertools.islice((r.text for r in read_rows(path, column, id_column, documents) if r.text), n))


def documents_folder(source: Path, documents: str | None) -> Path:
    """The folder a batch's `path` cells may name files in: `--documents`, else the batch file's own folder."""
    folder = Path(documents) if documents else source.resolve().parent
    if not folder.is_dir():
        raise BatchError(f"--documents {documents}: no such folder")
    return folder


def count_rows(path: Path) -> int:
    """Rows in the file, counted without holding it (for progress and ETA). A CSV is read through once here, so
    what would stop the batch half-way (a quote never closed, a cell over the size limit) stops it now, named."""
    with path.open("rb") as handle:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return sum(1 for line in handle if line.strip())
        reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline=""), strict=True)
        rows, ended_at = 0, 0
        try:
            for _ in reader:
                rows, ended_at = rows + 1, reader.line_num
        except csv.Error as exc:
            if "field limit" in str(exc):
                problem = f"a cell over {csv.field_size_limit() // 2**20} MB (the limit for one text is far lower)"
            elif "unexpected end of data" in str(exc):
                problem = "a quote opened here is never closed: the rest of the file would become one document"
            else:
                problem = str(exc)
            raise BatchError(f"{path}, row {rows} (line {ended_at + 1}): {problem}") from None
        return max(0, rows - 1)


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


class RateLimiter:
    """At most `rpm` calls a minute for one provider, spaced evenly (a token bucket of one). With `shared`, a
    number in shared memory, every worker process of a batch draws from the same bucket."""

    def __init__(self, rpm: float, shared: Any = None) -> None:
        self.interval = 60.0 / rpm
        self.shared = shared  # multiprocessing.Value("d"): the time the next call may start, for every process
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()  # one clock for every process of the machine
            if self.shared is None:
                start = max(now, self.next_at)
                self.next_at = start + self.interval
            else:
                with self.shared.get_lock():
                    start = max(now, self.shared.value)
                    self.shared.value = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def provider_of(engine_id: str) -> str:
    return engine_id.split(":", 1)[0] if ":" in engine_id else engine_id


@dataclass
class _Doc:
    row: Row
    results: list[BranchResult] = field(default_factory=list)
    remaining: int = 0


PATH_COLUMN = "path"  # a batch row may name a document file instead of carrying its text
OUT_COLUMNS = ("id", "row", "status", "aggregate_method", "aggregate_score", "n_ok", "n_scored", "n_total", "spread",
               "best", "cost_usd", "error")


class BatchWriter:
    """Appends one row per finished document and flushes it: partial results are on disk as they arrive."""

    def __init__(self, out: Path, branch_columns: list[str], append: bool) -> None:
        self.columns = [*OUT_COLUMNS, *branch_columns]
        self.handle = out.open("a" if append else "w", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.handle, self.columns, extrasaction="ignore")
        if not append:
            self.writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: "" if v is None else safe_cell(v) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _document_row(doc: _Doc, plan: RunPlan) -> dict[str, Any]:
    ordered = doc.results
    aggregate = reduce(ordered, plan.reducer)
    costs = [r.cost_usd for r in ordered]
    ok = sum(r.status == "ok" for r in ordered)
    status = "ok" if ok == len(ordered) else "partial" if ok else "failed"
    row: dict[str, Any] = {
        "id": doc.row.doc_id, "row": doc.row.number, "status": status, "aggregate_method": aggregate.method,
        "aggregate_score": aggregate.score, "n_ok": aggregate.n_ok, "n_scored": aggregate.n_scored,
        "n_total": aggregate.n_total,
        "spread": aggregate.spread, "best": aggregate.best,
        "cost_usd": None if None in costs else round(sum(c for c in costs if c is not None), 8),
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


def score_summary(out: Path) -> tuple[dict[str, Estimate], list[Comparison]]:
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
            progress.cost_usd += written.get("cost_usd") or 0.0
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


async def run_batch(
    plan: RunPlan,
    rows: Iterator[Row],
    out: Path,
    total: int,
    concurrency: int = 32,
    rpm: dict[str, float] | None = None,
    on_document: Callable[[dict[str, Any], BatchProgress], None] | None = None,
    retry_failed: bool = True,
    workers: int = 1,
    streamed: bool = False,
) -> BatchProgress:
    """Run every row's document through the plan's branches with at most `concurrency` calls at once, in this
    process or in `workers` processes (the calls at once and the rate limits shared between them).

    One writer, here, whatever the number of workers: a document is written once all its branches are done, so
    after a kill the results file holds whole documents only and a rerun runs exactly the others."""
    if workers < 1 or workers > concurrency:
        raise BatchError(f"workers must be between 1 and the calls at once ({concurrency})")
    output = BatchOutput(plan, out, total, retry_failed, on_document)
    try:
        if workers == 1:
            limiters = {p: RateLimiter(n) for p, n in (rpm or {}).items()}
            cache = GroupedCache(plan.cache) if isinstance(plan.cache, Store) else plan.cache
            try:
                await run_documents(replace(plan, cache=cache), as_async(output.to_run(rows)), output.finish,
                                    concurrency, limiters, streamed)
            finally:
                if isinstance(cache, GroupedCache):
                    await asyncio.to_thread(cache.flush)
        else:
            from .workers import in_processes

            await in_processes(plan, output.to_run(rows), output.record, workers, concurrency, rpm or {}, streamed)
    except BaseExceptionGroup as failed:
        raise BatchError(f"the batch stopped: {_first_cause(failed)}") from failed.exceptions[0]
    finally:
        output.close()
    return output.progress


async def as_async(rows: Iterator[Row], per_hop: int = 64) -> AsyncIterator[Row]:
    """Rows read in a thread, a few at a time: reading a row may read a document file (a confined child, up to
    its time limit), which must not stall the calls in flight; one thread hop a row would starve them."""
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(rows, per_hop))):
        for row in chunk:
            yield row


Finish = Callable[[Row, list[BranchResult], dict[str, Any]], None]


async def run_documents(plan: RunPlan, rows: AsyncIterator[Row], finish: Finish, concurrency: int,
                        limiters: dict[str, RateLimiter], streamed: bool = False) -> None:
    """Documents through the plan's branches with at most `concurrency` calls at once; each document's row is
    handed to `finish` when its last branch is done. Used by the batch's own process and by each worker."""
    queue: asyncio.Queue[tuple[_Doc, BranchSpec] | None] = asyncio.Queue(maxsize=concurrency * 2)
    # Nobody watches a batch arrive: each call asks for its whole reply and reads it once (less CPU a call).
    ctx = replace(run_context(plan), streamed=streamed, calls=asyncio.Semaphore(concurrency))

    async def complete(doc: _Doc) -> None:
        if plan.settings is not None:  # translations: agreement and the judge over this document's engines
            doc.results = (await assess(doc.row.text or "", doc.results, plan.settings, ctx, doc.row.doc_id)).results
        doc.results.sort(key=lambda r: r.order)
        finish(doc.row, doc.results, _document_row(doc, plan))

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            doc, spec = item
            limiter = limiters.get(provider_of(spec.engine.split("|")[0]))
            if limiter is not None:
                await limiter.wait()
            text = doc.row.text or ""
            result = await (review_branch(ctx, spec, text, _ignore) if plan.settings is None
                            else translate_branch(ctx, spec, text, plan.settings, _ignore))
            doc.results.append(result)
            doc.remaining -= 1
            if doc.remaining == 0:
                await complete(doc)

    async def feed() -> None:
        async for row in rows:
            doc = _Doc(row, remaining=len(plan.branches))
            for spec in plan.branches:
                await queue.put((doc, spec))
        for _ in range(concurrency):
            await queue.put(None)

    # Structured concurrency: if a worker fails (a results file that cannot be written, a full disk, a bug), the
    # feeder and the other workers are cancelled and the error reaches the caller: nothing waits forever on a
    # queue no one reads. Rows already written stay in the file.
    async with asyncio.TaskGroup() as group:
        group.create_task(feed())
        for _ in range(concurrency):
            group.create_task(worker())


def _first_cause(group: BaseExceptionGroup) -> str:  # type: ignore[type-arg]
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc.strerror or exc)
    return f"{type(exc).__name__}: {exc}"


def _ignore(_event: object) -> None:
    pass


def ideal_seconds(documents: int, branches: int, concurrency: int, latency_s: float) -> float:
    return math.ceil(documents * branches / concurrency) * latency_s

