"""The one branch runner every engine goes through: deadline, timing, usage, retries, cost, the cache."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from parallax.engines.base import (
    ATTEMPTS,
    Attempts,
    Engine,
    Finish,
    Request,
    Structured,
    Usage,
)
from parallax.results import BranchResult, BranchSpec
from parallax.review.judgement import read_judgement, reask_request

if TYPE_CHECKING:
    from parallax.perspectives import Perspective
from parallax.run.events import (
    BranchDelta,
    BranchFinished,
    BranchQueued,
    BranchRestarted,
    BranchRetrying,
    BranchStarted,
    Emit,
)
from parallax.run.failures import describe_failure, plural, without_secrets


class CallCache(Protocol):
    """Identical calls (engine, model, prompt, text, options) answered from storage."""

    def cache_get(self, key: str) -> dict[str, Any] | None: ...

    def cache_put(self, key: str, engine: str, data: dict[str, Any]) -> None: ...


def cache_key(engine: Engine, request: Request) -> str:
    task = request.task
    payload = {
        "engine": engine.engine_id, "model": engine.model, "system": request.system,
        "messages": [(m.role, m.content) for m in request.messages], "schema": request.schema,
        "max_tokens": request.max_tokens,
        "task": [task.kind, task.document, task.perspective, task.source, task.target],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# Reads a complete reply into the result; raises ValueError when the reply cannot be read (then re-asked once).
Read = Callable[[str, BranchResult], None]


@dataclass(frozen=True)
class BranchJob:
    """Everything one branch needs: what to ask, whom (a fallback chain: the next engine if one fails), the clock."""

    spec: BranchSpec
    request: Request
    engines: tuple[Engine, ...]
    deadline_s: float  # the whole branch's: every engine of its chain, retries and re-asks included
    run_started: float  # loop.time() when the run began
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    read: Read | None = read_judgement
    cache: CallCache | None = None
    # When the deadline falls (loop.time()): None starts it when the branch's first call begins; a later step of
    # the same branch (a two-step perspective's check) is given the deadline its first step started.
    deadline_at: float | None = None


@dataclass
class _Tally:
    """What one engine of a branch accumulated across its asks: text, asks, HTTP attempts, tokens."""

    parts: list[str] = field(default_factory=list)
    asks: int = 0
    priced_asks: int = 0  # asks that reported their tokens: their cost is known
    refused_asks: int = 0  # asks the server refused (an HTTP error) before any answer: nothing was billed
    attempts: Attempts = field(default_factory=Attempts)
    input_tokens: int = 0
    output_tokens: int = 0
    billed_input: float = 0.0  # tokens times the price factor (a provider batch's answers cost half)
    billed_output: float = 0.0
    have_usage: bool = False
    cached: bool = False
    counted: bool = False  # the current ask's tokens are reported

    def new_ask(self) -> None:
        self.asks += 1
        self.counted = False
        self.attempts.new_request()

    def add_usage(self, usage: Usage) -> None:
        self.have_usage = True
        if not self.counted and (usage.input_tokens is not None or usage.output_tokens is not None):
            self.counted = True
            self.priced_asks += 1
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        self.billed_input += (usage.input_tokens or 0) * usage.price_factor
        self.billed_output += (usage.output_tokens or 0) * usage.price_factor

    def cost(self, engine: Engine, price: dict[str, float] | None) -> tuple[float, int]:
        """The dollars of the asks whose cost is known, and how many asks' cost is unknown (no price, or no
        tokens reported by an ask that may have been billed: a timeout, a cut stream, a server without usage)."""
        if engine.free or self.cached or (price is not None and price["input"] == price["output"] == 0):
            return 0.0, 0  # a free engine (a local server priced 0) costs nothing, usage reported or not
        unknown = self.asks - self.refused_asks - (self.priced_asks if price is not None else 0)
        if price is None:
            return 0.0, unknown
        return (self.billed_input * price["input"] + self.billed_output * price["output"]) / 1e6, unknown


async def run_branch(job: BranchJob, emit: Emit) -> BranchResult:
    """Run one branch to a result, trying each engine of its chain in turn until one answers.

    The branch starts (its clock, its card) when its first call or cache read begins; time spent waiting for a
    slot on a limited engine is kept apart in `queued_ms`. Every failure becomes a status on the result; only
    cancellation propagates.
    """
    spec = job.spec
    loop = asyncio.get_running_loop()
    result = BranchResult(spec.branch_id, spec.order, spec.engine, spec.perspective, spec.weight)
    tallies: list[tuple[Engine, _Tally]] = []
    deadline_at = job.deadline_at  # one deadline for the whole branch: each engine gets what is left of it

    def begin() -> None:
        nonlocal deadline_at
        if result.started_s is None:
            result.started_s = loop.time() - job.run_started
            emit(BranchStarted(spec.branch_id, result.started_s))
        if deadline_at is None:
            deadline_at = loop.time() + job.deadline_s

    def elapsed() -> float | None:  # None: the branch never began (cancelled while queued)
        return None if result.started_s is None else loop.time() - job.run_started - result.started_s

    try:
        for engine in job.engines:
            if tallies:  # the previous engine failed: record it and start the card afresh
                failed = tallies[-1][0].engine_id
                result.fallbacks.append({"engine": failed, "status": result.status, "error": result.error})
                if deadline_at is not None and loop.time() >= deadline_at:  # no time left for this one
                    result.status = "timeout"
                    break
                emit(BranchRestarted(spec.branch_id, f"{failed} failed ({result.status}); trying {engine.engine_id}"))
                result.first_token_s = None
            tally = _Tally()
            tally.attempts.on_retry = lambda retry: emit(BranchRetrying(spec.branch_id, retry))
            tallies.append((engine, tally))
            if not await _from_cache(job, engine, tally, result, emit, loop, begin):
                try:
                    async with _slot(engine, spec.branch_id, result, emit, loop, deadline_at):
                        begin()
                        assert deadline_at is not None
                        await _call(job, engine, tally, result, emit, loop, deadline_at)
                except TimeoutError:  # a later engine of the chain waited for a slot until the deadline
                    tallies.pop()
                    result.status = "timeout"
                    break
                if result.status == "ok" and job.cache is not None:
                    await _to_cache(job, engine, tally)
            if result.status == "ok":
                result.answered_by = engine.engine_id
                break
    except asyncio.CancelledError:
        result.status, result.error = "cancelled", "cancelled before it finished"
        _finish(result, job, tallies, elapsed())
        raise
    if result.status == "timeout" and len(job.engines) > 1:
        result.error = _chain_deadline_error(job, len(tallies))
    _finish(result, job, tallies, elapsed())
    emit(BranchFinished(result))
    return result


@contextlib.asynccontextmanager
async def _slot(engine: Engine, branch_id: str, result: BranchResult, emit: Emit,
                loop: asyncio.AbstractEventLoop, until: float | None) -> AsyncIterator[None]:
    """A free slot on an engine with max_concurrency (none needed otherwise); the wait is counted apart. A branch
    whose deadline runs already (a later engine of its chain) waits no longer than that: TimeoutError."""
    slots = engine.slots
    if slots is None:
        yield
        return
    if slots.busy:
        emit(BranchQueued(branch_id, engine.engine_id, slots.limit))
    waited = loop.time()
    async with asyncio.timeout_at(until):
        await slots.acquire()
    try:
        result.queued_ms = round((result.queued_ms or 0) + (loop.time() - waited) * 1000, 1)
        yield
    finally:
        slots.release()


async def _call(job: BranchJob, engine: Engine, tally: _Tally, result: BranchResult, emit: Emit,
                loop: asyncio.AbstractEventLoop, deadline_at: float) -> None:
    """One engine answering one branch by the branch's deadline, re-asked once if its reply cannot be read."""
    branch_id = job.spec.branch_id
    ATTEMPTS.set(tally.attempts)  # this task's own context: the engine's HTTP hook counts into it
    request = job.request
    result.status, result.error = "ok", None
    reask: tuple[str, str] | None = None
    try:
        async with asyncio.timeout_at(deadline_at):
            while True:
                tally.new_ask()
                finish: Finish | None = None
                async for event in engine.stream(request):
                    if isinstance(event, str):
                        if result.first_token_s is None:
                            result.first_token_s = loop.time() - job.run_started
                        tally.parts.append(event)
                        emit(BranchDelta(branch_id, event))
                    elif isinstance(event, Usage):
                        tally.add_usage(event)
                    elif isinstance(event, Structured):
                        result.structured_mode = event.mode
                    else:
                        finish = event
                text = "".join(tally.parts)
                if finish is None:
                    result.status = "truncated"
                    result.error = (f"{engine.provider}: the stream ended before its final event"
                                    + engine.interrupted_hint)
                elif finish.reason == "length":
                    result.status = "truncated"
                    if tally.have_usage and tally.output_tokens > request.max_tokens:
                        result.error = (f"{engine.provider}: cut off by the server after {tally.output_tokens:,} "
                                        f"tokens, past Parallax's limit of {request.max_tokens:,} (the server ignored "
                                        "it: check token_limit_param)")
                    else:
                        result.error = f"{engine.provider}: cut off at the token limit ({request.max_tokens:,})"
                elif job.read is None and not text.strip():  # a translation (plain text) that came back empty
                    result.status, result.error = "error", f"{engine.provider}: the reply was empty"
                elif job.read is not None:
                    try:
                        job.read(text, result)
                    except ValueError as exc:
                        if tally.asks == 1:
                            emit(BranchRestarted(branch_id, f"reply did not parse: {exc}"))
                            reask = (text, str(exc))
                            request = reask_request(request, text, str(exc))
                            tally.parts.clear()
                            continue
                        result.status, result.error = "error", f"{engine.provider}: unparseable judgement ({exc})"
                return
    except TimeoutError:
        result.status = "timeout"
        count = tally.attempts.count
        waited = f" ({plural(count, 'attempt')} made)" if count > 1 else ""
        result.error = f"{engine.provider}: no complete answer within the {job.deadline_s:g} s deadline{waited}"
    except Exception as exc:  # a failure is data; cancellation (not an Exception) propagates
        code = getattr(exc, "status_code", None)
        if not tally.counted and not tally.parts and isinstance(code, int) and code >= 400:
            tally.refused_asks += 1  # refused before answering (4xx, 5xx): providers bill nothing for it
        result.status = "error"
        result.error = describe_failure(exc, engine.provider, tally.attempts.count, job.secrets)
    finally:
        result.exchange = exchange(job.request, engine, reask, job.secrets)


def _chain_deadline_error(job: BranchJob, tried: int) -> str:
    """A fallback chain that ran out of time: its deadline, how many of its engines were called, and which had no
    time left (each engine's own failure is in `fallbacks`)."""
    left = [e.engine_id for e in job.engines[tried:]]
    rest = f"; no time left for {', '.join(left)}" if left else ""
    return f"no answer within the {job.deadline_s:g} s deadline ({plural(tried, 'engine')} tried{rest})"


def exchange(request: Request, engine: Engine, reask: tuple[str, str] | None,
             secrets: Iterable[str]) -> dict[str, Any]:
    """What was sent, as sent (the raw reply is the result's `text`): system and user messages with the document
    delimited, the output schema, and the re-ask if there was one and why. Keys are never in it."""
    secrets = tuple(secrets)
    data: dict[str, Any] = {
        "engine": engine.engine_id,
        "system": without_secrets(request.system, secrets),
        "messages": [{"role": m.role, "content": without_secrets(m.content, secrets)} for m in request.messages],
        # The schema by name only (Parallax's own constants: the page shows them): kept with every branch, the
        # whole schema made a 512-branch run 15% slower to record.
        "schema_name": request.schema_name if request.schema else None,
        "reask": None if reask is None else {"reason": reask[1], "first_reply": without_secrets(reask[0], secrets)},
    }
    if not engine.prompted:
        data["note"] = (f"{engine.engine_id} takes no prompt: it gets the text itself (and the language pair), "
                        "not the messages below, which are what an LLM engine would have been sent.")
    return data


async def _from_cache(job: BranchJob, engine: Engine, tally: _Tally, result: BranchResult, emit: Emit,
                      loop: asyncio.AbstractEventLoop, begin: Callable[[], None]) -> bool:
    """Answer from the cache of identical calls: no provider call, cost 0, marked cached."""
    if job.cache is None:
        return False
    try:
        hit = await asyncio.to_thread(job.cache.cache_get, cache_key(engine, job.request))
    except Exception:  # noqa: BLE001 - an unreachable cache is only a missed saving
        return False
    if hit is None:
        return False
    text = hit["text"]
    if job.read is not None:
        try:
            job.read(text, result)
        except ValueError:
            return False  # an entry we can no longer read: ask the provider
    begin()
    result.first_token_s = loop.time() - job.run_started
    tally.parts.append(text)
    emit(BranchDelta(job.spec.branch_id, text))
    result.status, result.error, result.cached = "ok", None, True
    result.exchange = exchange(job.request, engine, None, job.secrets)
    tally.input_tokens, tally.output_tokens = hit.get("input_tokens") or 0, hit.get("output_tokens") or 0
    tally.have_usage = hit.get("input_tokens") is not None
    tally.cached = True
    return True


async def _to_cache(job: BranchJob, engine: Engine, tally: _Tally) -> None:
    assert job.cache is not None
    data = {"text": without_secrets("".join(tally.parts), job.secrets),
            "input_tokens": tally.input_tokens if tally.have_usage else None,
            "output_tokens": tally.output_tokens if tally.have_usage else None}
    try:
        await asyncio.to_thread(job.cache.cache_put, cache_key(engine, job.request), engine.engine_id, data)
    except Exception:  # noqa: BLE001 - failing to cache must not fail the branch
        pass


def _finish(result: BranchResult, job: BranchJob, tallies: list[tuple[Engine, _Tally]],
            elapsed: float | None) -> None:
    """Timing, usage, retries and cost, summed over every engine the branch tried (elapsed None: never began)."""
    last = tallies[-1][1] if tallies else _Tally()
    result.text = "".join(last.parts)
    result.latency_ms = None if elapsed is None else round(elapsed * 1000, 1)
    if result.first_token_s is not None and result.started_s is not None:
        result.ttft_ms = round((result.first_token_s - result.started_s) * 1000, 1)
    result.ended_s = result.started_s + elapsed if result.started_s is not None and elapsed is not None else None
    result.retries = sum(t.attempts.retries for _, t in tallies)  # the same request sent again
    if any(t.have_usage for _, t in tallies):
        result.input_tokens = sum(t.input_tokens for _, t in tallies)
        result.output_tokens = sum(t.output_tokens for _, t in tallies)
    # Every engine called counts (a fallback chain's failed ones too); a branch that called none cost nothing.
    costs = [t.cost(engine, job.prices.get(engine.engine_id)) for engine, t in tallies]
    result.cost_known_usd = round(sum(known for known, _ in costs), 8)
    result.unpriced_calls = sum(unknown for _, unknown in costs)
    result.cost_usd = None if result.unpriced_calls else result.cost_known_usd
    if result.status != "ok":
        result.score = None
    _redact_result(result, job.secrets)


def _redact_result(result: BranchResult, secrets: tuple[str, ...]) -> None:
    """A configured key a model repeats back (a document that contained it, a prompt injection) is never kept,
    stored or exported."""
    result.text, result.summary = without_secrets(result.text, secrets), without_secrets(result.summary, secrets)
    result.strengths = [without_secrets(x, secrets) for x in result.strengths]
    for finding in result.issues:
        finding.quote, finding.note = without_secrets(finding.quote, secrets), without_secrets(finding.note, secrets)


@dataclass
class RunContext:
    """What a run's branches need (the graph's nodes, a batch's documents) but a graph state should not carry:
    live engine objects, limits, prices, the clock."""

    engines: dict[str, Engine]  # every engine id the run uses, each part of a fallback chain, and the judge
    perspectives: dict[str, Perspective]
    deadline_s: float
    run_started: float
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    cache: CallCache | None = None
    samples: int = 1  # reviews: calls per branch (never from the cache when more than one)
    streamed: bool = True  # False: each call asks for the whole reply (a batch: nobody watches it arrive)
    calls: asyncio.Semaphore | None = None  # at most this many calls at once (a batch's --concurrency)


def job_for(ctx: RunContext, spec: BranchSpec, request: Request, read: Read | None,
            since: float | None = None) -> BranchJob:
    """A branch's job: its engine (or fallback chain), the run's deadline, clock, prices, secrets and cache.
    `since`: a later step of a branch that began `since` seconds into the run, whose deadline runs from then."""
    return BranchJob(spec=spec, request=request, engines=tuple(ctx.engines[part] for part in spec.engine.split("|")),
                     deadline_s=ctx.deadline_s, run_started=ctx.run_started, prices=ctx.prices, secrets=ctx.secrets,
                     read=read, cache=ctx.cache,
                     deadline_at=None if since is None else ctx.run_started + since + ctx.deadline_s)
