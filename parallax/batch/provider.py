"""Batches through the providers' own batch APIs (OpenAI Batch, Anthropic Message Batches): half the price,
results within 24 hours.

Submitting builds every (document, branch) request exactly as a direct call would send it, one provider batch
per engine, and stores the job in the history before anything else: the process may stop while the provider
works. Collecting waits for every part to end, reads the results, and runs each document through the same
branch runner as any batch, with an engine that answers from the batch's results (`Collected`): parsing, the
re-ask of an unreadable reply, cost (at the batch price), statuses and the results file are the ones every
batch has. Requests are matched to results by the call cache's key of the request, so a document collected
after a restart finds its answer whatever order the provider returns them in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parallax.config import parallax_home
from parallax.documents import InputError
from parallax.engines.base import BatchRequestError, BatchState, Engine, Event, Outcome, Request, Structured, Usage
from parallax.run.branch import cache_key
from parallax.run.failures import describe_failure

if TYPE_CHECKING:  # the CLI reads this module's constants at start: no SQLAlchemy or LangGraph import here
    from parallax.run.plan import RunPlan
    from parallax.storage import Store

BATCH_PRICE_FACTOR = 0.5  # both providers bill batch requests at half the normal price
WINDOW = "results within 24 hours"
POLL_S = 30.0
JOB_KEY_VARIABLE = "PARALLAX_JOB_KEY"  # replicas serving one team over one PostgreSQL history share it


def _job_key() -> bytes:
    """The key that seals the jobs this installation sends: PARALLAX_JOB_KEY, else a random key kept (readable by
    this user only) beside the history, made on first use."""
    if shared := os.environ.get(JOB_KEY_VARIABLE):
        return shared.encode()
    path = parallax_home() / "jobs.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key


def seal(job_id: str, out_path: str, job: dict[str, Any]) -> str:
    """A job's seal: what it reads and writes (input, documents, results file, options, rows) signed with the
    job key. A stored job is collected only under a seal this installation made, so a job written into a shared
    history by someone else cannot make Parallax read a file, call a provider with this user's key, or write."""
    as_stored = json.loads(json.dumps({k: v for k, v in job.items() if k != "seal"}, default=str))  # int keys too
    content = json.dumps([job_id, out_path, as_stored], sort_keys=True)
    return hmac.new(_job_key(), content.encode(), hashlib.sha256).hexdigest()


def sealed(record: dict[str, Any]) -> bool:
    """The stored job is one this installation sent, unchanged since."""
    stored = record["job"].get("seal")
    return isinstance(stored, str) and hmac.compare_digest(stored, seal(record["job_id"], record["out_path"],
                                                                         record["job"]))


def not_sealed(record: dict[str, Any]) -> str:
    """What a job that is not ours would do, said instead of doing it."""
    args = record["job"].get("args") or {}
    return (f"provider batch {record['job_id']} was not sent from here, or was changed since (its seal does not "
            f"match this installation's job key, {JOB_KEY_VARIABLE} or ~/.parallax/jobs.key): it would read "
            f"{args.get('input')!r} and write {record['out_path']!r}; nothing was read, sent or written")


def batch_engines(plan: RunPlan) -> dict[str, Any]:
    """The plan's branch engines, each able to take a provider batch; an InputError (before anything is sent)
    names what cannot."""
    if plan.samples > 1:
        raise InputError("a provider batch asks each branch once: leave out --samples")
    found: dict[str, Any] = {}
    for spec in plan.branches:
        if "|" in spec.engine:
            raise InputError(f"a provider batch takes single engines, not the fallback chain {spec.engine}")
        engine = plan.engines[spec.engine]
        if not engine.batch_api:
            raise InputError(f"provider batches work with openai: and anthropic: engines; {spec.engine} has no "
                             "batch API")
        found[spec.engine] = engine
    return found


class Collected(Engine):
    """An engine answering from a provider batch's results, under the real engine's id and model (so cache keys
    and prices are the same). A request not in the batch — the re-ask of a reply that did not parse — is sent to
    the real engine directly, at the normal price."""

    def __init__(self, engine: Any, outcomes: dict[str, Outcome]) -> None:
        self.engine, self.outcomes = engine, outcomes
        self.engine_id, self.provider, self.model = engine.engine_id, engine.provider, engine.model
        self.free, self.kinds, self.streams = engine.free, engine.kinds, False

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        outcome = self.outcomes.get(cache_key(self.engine, request)) or self.outcomes.get("*")
        if outcome is None:
            async for event in self.engine.stream(dataclasses.replace(request, streamed=False)):
                yield event
            return
        if outcome.reply is None:
            raise BatchRequestError(outcome)
        mode = self.engine.batch_mode(request)
        if mode is not None:
            yield Structured(mode)
        for event in self.engine.reply_events(outcome.reply):
            yield dataclasses.replace(event, price_factor=BATCH_PRICE_FACTOR) if isinstance(event, Usage) else event


class Recording(Engine):
    """An engine that records the requests a branch makes, under the real engine's id and model (so cache keys are
    the same), and answers none: the branch ends at its first call of each step it can plan ahead (a chunk, a
    draft). Steps that need an answer first (a self-check, a re-ask, a too-long retry) go to the provider directly
    when the batch is collected."""

    def __init__(self, engine: Any, seen: list[tuple[str, Request]]) -> None:
        self.engine, self.seen = engine, seen
        self.engine_id, self.provider, self.model = engine.engine_id, engine.provider, engine.model
        self.free, self.kinds, self.streams = engine.free, engine.kinds, False

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        self.seen.append((self.engine_id, request))
        raise BatchRequestError(Outcome(error="recorded for the provider batch"))
        yield  # pragma: no cover - a generator, as every engine's stream is


async def requests_of(plan: RunPlan, rows: Iterator[Any]) -> AsyncIterator[tuple[Any, list[tuple[str, Request]]]]:
    """Each row with (engine id, request) for every call of its branches that can be planned ahead, found by running
    the branch pipeline itself (chunks and steps as any batch makes them) on recording engines. The cache is not
    asked here: the caller decides what to send (and a row whose calls are all cached is still part of the job)."""
    from parallax.run.execute import run_context
    from parallax.run.pipeline import review_branch, translate_branch

    seen: list[tuple[str, Request]] = []
    engines = {engine_id: Recording(engine, seen) for engine_id, engine in batch_engines(plan).items()}
    ctx = dataclasses.replace(run_context(plan), engines={**plan.engines, **engines}, streamed=False, cache=None)
    for row in rows:
        text = row.text or ""
        for spec in plan.branches:
            await (review_branch(ctx, spec, text, _ignore) if plan.settings is None
                   else translate_branch(ctx, spec, text, plan.settings, _ignore))
        yield row, list(seen)
        seen.clear()


def _ignore(_event: object) -> None:
    pass


async def submit(plan: RunPlan, rows: Iterator[Any], store: Store, out: Path, args: dict[str, Any]) -> dict[str, Any]:
    """Hand every row's requests to the providers (one batch per engine) and record the job in the history.
    Requests the cache already answers are not sent. Returns the stored job.

    The job is stored before anything is sent and again after each part: a batch the provider accepted is never
    left billed with nobody to collect it. A part the provider refused is kept as "not sent" (its documents get
    that error when collected) while the others go on; when every part is refused, nothing waits and the first
    refusal is raised."""
    engines = batch_engines(plan)
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    numbers: dict[int, str] = {}
    async for row, requests in requests_of(plan, rows):
        numbers[row.number] = row.doc_id
        for engine_id, request in requests:
            engine = engines[engine_id]
            key = cache_key(engine, request)
            if plan.cache is not None and await asyncio.to_thread(plan.cache.cache_get, key) is not None:
                continue  # answered from the cache when collected
            groups.setdefault(engine_id, {})[key] = engine.params(request, engine.batch_mode(request))
    job_id = uuid.uuid4().hex[:12]
    from parallax.run.spec import spec_of

    job = {"args": args, "rows": numbers, "spec": spec_of(plan).to_dict()}  # the run as sent, not as configured later
    job["seal"] = seal(job_id, str(out), job)
    record: dict[str, Any] = {"job_id": job_id, "out_path": str(out), "parts": [], "job": job, "status": "waiting"}
    await asyncio.to_thread(store.save_provider_batch, record["job_id"], str(out), [], record["job"])
    refused: list[Exception] = []
    for engine_id, items in groups.items():
        engine = engines[engine_id]
        part = {"engine": engine_id, "batch_id": None, "state": "submitted", "total": len(items), "succeeded": 0,
                "failed": 0}
        try:
            part["batch_id"] = await engine.submit_batch(list(items.items()))
        except Exception as exc:  # noqa: BLE001 - kept on the part; raised below when no part was accepted
            refused.append(exc)
            part.update(state="not sent", ended=True, failed=len(items),
                        error=describe_failure(exc, engine.provider, 1))
        record["parts"].append(part)
        await asyncio.to_thread(store.update_provider_batch, record["job_id"], record["parts"])
    if refused and len(refused) == len(groups):
        record["status"] = "failed"
        await asyncio.to_thread(store.update_provider_batch, record["job_id"], record["parts"], "failed")
        raise refused[0]
    return record


def describe(parts: list[dict[str, Any]]) -> str:
    """One line for the page and the CLI: each part's state and counts."""
    return "; ".join(f"{p['engine']}: not sent ({p.get('error')})" if p["batch_id"] is None else
                     f"{p['engine']} batch {p['batch_id']}: {p['state']}, {p['succeeded']} of {p['total']} answered"
                     + (f", {p['failed']} failed" if p["failed"] else "") for p in parts) or "nothing to send"


async def wait(plan: RunPlan, record: dict[str, Any], store: Store, on_state: Callable[[str], None],
               poll_s: float = POLL_S, once: bool = False) -> bool:
    """Ask each part's state until all have ended (or once); the states are stored and told. True when ended."""
    engines = batch_engines(plan)
    while True:
        parts = record["parts"]
        for part in parts:
            if part.get("ended"):
                continue
            state: BatchState = await engines[part["engine"]].batch_state(part["batch_id"])
            part.update(state=state.state, ended=state.ended, total=state.total or part["total"],
                        succeeded=state.succeeded, failed=state.failed)
        await asyncio.to_thread(store.update_provider_batch, record["job_id"], parts)
        on_state(describe(parts))
        ended = all(p.get("ended") for p in parts)
        if ended or once:
            return ended
        await asyncio.sleep(poll_s)


async def collected_plan(plan: RunPlan, record: dict[str, Any]) -> RunPlan:
    """The plan whose branch engines answer from the ended batches' results."""
    engines = batch_engines(plan)
    outcomes: dict[str, dict[str, Outcome]] = {engine_id: {} for engine_id in engines}
    for part in record["parts"]:
        if part["batch_id"] is None:  # refused when sent: every request of that engine has the refusal
            outcomes[part["engine"]]["*"] = Outcome(error=f"not sent: {part.get('error')}")
        else:
            outcomes[part["engine"]].update(await engines[part["engine"]].batch_results(part["batch_id"]))
    collected: dict[str, Engine] = {engine_id: Collected(engine, outcomes[engine_id])
                                    for engine_id, engine in engines.items()}
    return dataclasses.replace(plan, engines={**plan.engines, **collected})


def rows_of(record: dict[str, Any], rows: Iterator[Any], written: Any) -> Iterator[Any]:
    """The job's rows from the input file read again, and the rows already in the results file (`written`: ids
    as stored, to be counted as done earlier); a job row whose id changed since submitting is an error."""
    from parallax.export import safe_cell

    wanted = {int(number): doc_id for number, doc_id in record["job"]["rows"].items()}
    for row in rows:
        sent_as = wanted.get(row.number)
        if sent_as is None:
            if safe_cell(row.doc_id) in written:
                yield row
        elif row.doc_id != sent_as:
            yield dataclasses.replace(row, text=None, error=f"row {row.number}: the input file changed since the "
                                      f"batch was sent (id {sent_as!r} is now {row.doc_id!r})")
        else:
            yield row


def collect_job(record: dict[str, Any], store: Store, on_state: Callable[[str], None],
                on_document: Callable[[dict[str, Any], Any], None] | None = None, poll_s: float = POLL_S,
                once: bool = False) -> tuple[RunPlan, Any] | None:
    """Collect one stored job into its results file: its plan rebuilt from the stored options, each part's
    state asked (until all have ended, or once), then every document run on the batch's answers and written.
    Returns (plan, progress), or None when `once` found a part still running. One event loop for it all: the
    engines' connections belong to it."""
    from parallax.batch.output import BatchOutput
    from parallax.batch.pool import as_async, run_documents
    from parallax.batch.rows import count_rows, read_rows
    from parallax.config import load_config
    from parallax.run.plan import plan_from_options
    from parallax.run.spec import RunSpec, bind

    if not sealed(record):
        raise InputError(not_sealed(record))
    options = record["job"]["args"]
    config = load_config(options.get("config"))  # engines only (keys, servers): the perspectives are the job's
    if "spec" in record["job"]:
        plan = bind(RunSpec.from_dict(record["job"]["spec"]), "(each document of the batch)", config)
    else:  # a job sent before jobs kept their spec
        plan = plan_from_options(options, "(each document of the batch)", config)
    plan.cache = None if options.get("no_cache") else store
    source = Path(options["input"])
    documents = Path(options["documents"]) if options.get("documents") else None  # None: sent from the page
    rows, total = read_rows(source, options["column"], options.get("id_column"), documents), count_rows(source)

    async def run() -> Any:
        if not await wait(plan, record, store, on_state, poll_s, once):
            return None
        answering = await collected_plan(plan, record)
        output = BatchOutput(plan, Path(options["out"]), total, not options.get("skip_failed"), on_document)
        try:
            todo = output.to_run(rows_of(record, rows, output.done_ids))
            await run_documents(answering, as_async(todo), output.finish, int(options.get("concurrency") or 32), {})
        finally:
            output.close()
        await asyncio.to_thread(store.update_provider_batch, record["job_id"], record["parts"], "collected")
        return output.progress

    progress = asyncio.run(run())
    return None if progress is None else (plan, progress)
