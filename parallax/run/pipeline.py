"""One branch, every strategy, in one place: plain, sampled (k calls), two-step (a draft, then a self-check),
map-reduce over the chunks of a long document, and the chunked retry of a text the model found too long.

The graph (`graph.py`) runs these steps as its nodes, wired with Send and a deferred aggregate, so the page and
`parallax review` show each chunk and step as it happens; a batch runs the whole branch with `review_branch` /
`translate_branch`. Either way a perspective on a text makes the same chunks, the same steps and the same calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
from typing import Any

from parallax.costs import summed
from parallax.engines.base import Request
from parallax.results import BranchResult, BranchSpec
from parallax.review.chunks import Chunk, merge_chunks, split_text
from parallax.review.judgement import check_request, read_judgement, review_request
from parallax.run.branch import BranchJob, RunContext, job_for, run_branch
from parallax.run.events import BranchFinished, BranchRestarted, BranchStarted, ChunkFinished, Emit
from parallax.run.failures import TOO_LONG, plural
from parallax.translate.request import TranslationSettings, translation_request


def review_chunks(document: str) -> list[Chunk]:
    """The chunks a review reads: one for a text that fits, several (map-reduce) for a long one."""
    return split_text(document)


def two_step(ctx: RunContext, spec: BranchSpec) -> bool:
    return ctx.perspectives[spec.perspective].two_step


async def _call(ctx: RunContext, spec: BranchSpec, request: Request, emit: Emit, read: Any = read_judgement,
                samples: int = 1, since: float | None = None) -> BranchResult:
    """One call of a branch (k calls when sampled), within the run's limit of calls at once, if it has one.
    `since`: a later step of a branch that began then (seconds into the run): the branch's deadline runs from it."""
    job = job_for(ctx, spec, request if ctx.streamed else dataclasses.replace(request, streamed=False), read, since)
    async with ctx.calls if ctx.calls is not None else contextlib.nullcontext():
        if samples > 1:
            return await sampled_branch(job, samples, emit)
        return await run_branch(job, emit)


async def sampled_branch(job: BranchJob, k: int, emit: Any) -> BranchResult:
    """k independent calls for one branch: the first streams on the card, the others run beside it silently.
    None comes from the cache (k samples must be k answers). The branch shows the first sample's review, scored
    with the mean of every sample that came back; its tokens and cost are those of all k calls (paid for whether
    or not the first came back)."""
    fresh = dataclasses.replace(job, cache=None)
    first, *others = await asyncio.gather(run_branch(fresh, emit),
                                          *(run_branch(fresh, lambda _event: None) for _ in range(k - 1)))
    first.cost_usd, first.cost_known_usd, first.unpriced_calls = summed((first, *others))
    if first.status != "ok":
        return first
    readable = [r for r in (first, *others) if r.scored]
    first.samples = [r.score for r in readable if r.score is not None]
    first.score = round(statistics.fmean(first.samples), 4)
    for name in ("input_tokens", "output_tokens"):
        values = [getattr(r, name) for r in (first, *others)]
        setattr(first, name, None if None in values else sum(values))
    if len(readable) < k:
        errors = "; ".join(dict.fromkeys(r.error or r.status for r in others if not r.scored))
        first.error = f"{k - len(readable)} of {k} samples failed: {errors}"
    return first


def holding(emit: Emit, held: list[BranchFinished], drop_start: bool = False) -> Emit:
    """Pass a step's events on, but keep its finish: the branch finishes when its last step does."""
    def passing(event: Any) -> None:
        if isinstance(event, BranchFinished):
            held.append(event)
        elif not (drop_start and isinstance(event, BranchStarted)):
            emit(event)
    return passing


def chunk_events(emit: Emit, chunk: Chunk, of: int) -> Emit:
    """A chunk reports as its branch: started once, then "chunk k of n done"; its text is not streamed."""
    def passing(event: Any) -> None:
        if isinstance(event, BranchStarted):
            emit(event)
        elif isinstance(event, BranchFinished):
            emit(ChunkFinished(event.result.branch_id, chunk.index, of))
    return passing


async def review_chunk(ctx: RunContext, spec: BranchSpec, chunk: Chunk, of: int, emit: Emit,
                       since: float | None = None) -> BranchResult:
    """The map step: one chunk of a long document, reviewed on its own."""
    perspective = ctx.perspectives[spec.perspective]
    result = await _call(ctx, spec, review_request(chunk.text, perspective), chunk_events(emit, chunk, of),
                         since=since)
    result.chunk = chunk.index
    return result


def merge_branch(parts: list[tuple[Chunk, BranchResult]], emit: Emit) -> BranchResult:
    """The reduce step: a branch's chunks merged into one result, reported as the branch finishing."""
    merged = merge_chunks(parts)
    emit(BranchFinished(merged))
    return merged


async def review_whole(ctx: RunContext, spec: BranchSpec, document: str, emit: Emit) -> BranchResult:
    """A one-step review of a text that fits (k samples if the run asks for them); if the model finds the text
    too long after all, it is reviewed in halves and merged."""
    perspective = ctx.perspectives[spec.perspective]
    held: list[BranchFinished] = []  # the finish is reported below, once we know it is final
    result = await _call(ctx, spec, review_request(document, perspective), holding(emit, held), samples=ctx.samples)
    if result.status != "error" or TOO_LONG not in (result.error or ""):
        emit(held[0])
        return result
    chunks = split_text(document, size=max(1000, len(document) // 2))
    parts = await asyncio.gather(*(review_chunk(ctx, spec, c, len(chunks), emit, result.started_s) for c in chunks))
    merged = merge_chunks(list(zip(chunks, parts, strict=True)))
    merged.text = (f"(the whole text was too long for the model: reviewed in {plural(len(chunks), 'chunk')})\n\n"
                   f"{merged.text}")
    emit(BranchFinished(merged))
    return merged


async def draft(ctx: RunContext, spec: BranchSpec, document: str, emit: Emit) -> BranchResult:
    """Step one of two: the draft streams like any branch; its finish is held (the check finishes the branch)."""
    result = await _call(ctx, spec, review_request(document, ctx.perspectives[spec.perspective]), holding(emit, []))
    result.steps = [{"step": "draft", "started_s": result.started_s, "ended_s": result.ended_s,
                     "status": result.status}]
    if result.status == "ok":
        emit(BranchRestarted(spec.branch_id, "draft done: checking it against the document"))
    return result


async def check(ctx: RunContext, spec: BranchSpec, document: str, first: BranchResult, emit: Emit) -> BranchResult:
    """Step two: the engine checks its own draft; time, tokens and cost of both steps are counted. A failed draft
    is the branch's result."""
    if first.status != "ok":
        emit(BranchFinished(first))
        return first
    request = check_request(document, ctx.perspectives[spec.perspective], first.text)
    result = await _call(ctx, spec, request, holding(emit, [], drop_start=True), since=first.started_s)
    result.steps = [*first.steps, {"step": "check", "started_s": result.started_s, "ended_s": result.ended_s,
                                   "status": result.status}]
    result.started_s, result.first_token_s, result.ttft_ms = first.started_s, first.first_token_s, first.ttft_ms
    if result.started_s is not None and result.ended_s is not None:
        result.latency_ms = round((result.ended_s - result.started_s) * 1000, 1)
    for name in ("input_tokens", "output_tokens"):
        a, b = getattr(first, name), getattr(result, name)
        setattr(result, name, None if a is None or b is None else a + b)
    result.cost_usd, result.cost_known_usd, result.unpriced_calls = summed((first, result))
    result.retries += first.retries
    emit(BranchFinished(result))
    return result


async def review_branch(ctx: RunContext, spec: BranchSpec, document: str, emit: Emit) -> BranchResult:
    """A whole review branch, every strategy, as the graph runs it step by step."""
    chunks = review_chunks(document)
    if len(chunks) > 1:
        parts = await asyncio.gather(*(review_chunk(ctx, spec, c, len(chunks), emit) for c in chunks))
        return merge_branch(list(zip(chunks, parts, strict=True)), emit)
    if two_step(ctx, spec):
        return await check(ctx, spec, document, await draft(ctx, spec, document, emit), emit)
    return await review_whole(ctx, spec, document, emit)


async def translate_branch(ctx: RunContext, spec: BranchSpec, document: str, settings: TranslationSettings,
                           emit: Emit) -> BranchResult:
    """A translation branch: one call, its text the translation (no judgement to read)."""
    return await _call(ctx, spec, translation_request(document, settings), emit, read=None)

