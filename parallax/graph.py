"""The review graph: START fans out one Send per branch, `run_branch` nodes run in parallel, `aggregate` merges."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from .assess import assess
from .chunks import Chunk, merge_chunks, split_text
from .judgement import check_request, read_judgement, review_request
from .reducers import reduce
from .results import Aggregate, BranchResult, BranchSpec
from .runner import (
    TOO_LONG,
    BranchFinished,
    BranchRestarted,
    BranchStarted,
    ChunkFinished,
    RunContext,
    job_for,
    sampled_branch,
)
from .runner import run_branch as run_one
from .translation import TranslationSettings, translation_request


class ReviewState(TypedDict, total=False):
    document: str
    branches: list[BranchSpec]
    reducer: str
    # Branches finish in any order; each result carries its branch id and declared order.
    results: Annotated[list[BranchResult], operator.add]
    aggregate: Aggregate


class BranchInput(TypedDict, total=False):
    document: str
    spec: BranchSpec
    chunk: Chunk  # set when a long document is split: this task reviews only this chunk
    of: int


def fan_out(state: ReviewState, runtime: Runtime[RunContext]) -> list[Send]:
    """One Send per branch — per branch and chunk for a long document (map-reduce): each task gets only its
    own small input. A two-step perspective's branch goes to `draft`, which then sends it on to `check`."""
    chunks = split_text(state["document"])
    if len(chunks) == 1:
        two_step = {name for name, p in runtime.context.perspectives.items() if p.two_step}
        return [Send("draft" if spec.perspective in two_step else "run_branch",
                     {"document": state["document"], "spec": spec}) for spec in state["branches"]]
    return [Send("run_branch", {"document": c.text, "spec": spec, "chunk": c, "of": len(chunks)})
            for spec in state["branches"] for c in chunks]


async def run_branch(state: BranchInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx, spec, writer = runtime.context, state["spec"], get_stream_writer()
    perspective = ctx.perspectives[spec.perspective]
    chunk = state.get("chunk")
    if chunk is not None:
        result = await run_one(job_for(ctx, spec, review_request(chunk.text, perspective), read_judgement),
                               _chunk_events(writer, chunk, state["of"]))
        result.chunk = chunk.index
        return {"results": [result]}
    held: list[BranchFinished] = []  # the finish is reported below, once we know it is final
    job = job_for(ctx, spec, review_request(state["document"], perspective), read_judgement)
    if ctx.samples > 1:
        result = await sampled_branch(job, ctx.samples, _holding(writer, held))
    else:
        result = await run_one(job, _holding(writer, held))
    if result.status != "error" or TOO_LONG not in (result.error or ""):
        writer(held[0])
    else:
        # The provider refused the whole text: review it in chunks after all, then merge.
        chunks = split_text(state["document"], size=max(1000, len(state["document"]) // 2))
        parts = await asyncio.gather(*(run_one(job_for(ctx, spec, review_request(c.text, perspective),
                                                       read_judgement), _chunk_events(writer, c, len(chunks)))
                                       for c in chunks))
        result = merge_chunks(list(zip(chunks, parts, strict=True)))
        note = f"(the whole text was too long for the model: reviewed in {len(chunks)} chunks)"
        result.text = f"{note}\n\n{result.text}"
        writer(BranchFinished(result))
    return {"results": [result]}


class CheckInput(TypedDict):
    document: str
    spec: BranchSpec
    draft: BranchResult


def _holding(writer: Any, held: list[BranchFinished], drop_start: bool = False) -> Any:
    """Pass a step's events on, but keep its finish: the branch finishes when its last step does."""
    def emit(event: Any) -> None:
        if isinstance(event, BranchFinished):
            held.append(event)
        elif not (drop_start and isinstance(event, BranchStarted)):
            writer(event)
    return emit


async def draft(state: BranchInput, runtime: Runtime[RunContext]) -> Command[Literal["check"]]:
    """Step one of two: the draft streams like any branch; a failed draft ends the branch (in `check`)."""
    ctx, spec, writer = runtime.context, state["spec"], get_stream_writer()
    request = review_request(state["document"], ctx.perspectives[spec.perspective])
    result = await run_one(job_for(ctx, spec, request, read_judgement), _holding(writer, []))
    result.steps = [{"step": "draft", "started_s": result.started_s, "ended_s": result.ended_s,
                     "status": result.status}]
    if result.status == "ok":
        writer(BranchRestarted(spec.branch_id, "draft done: checking it against the document"))
    # Always on to `check` (which passes a failed draft through): every branch reaches `aggregate` the same way.
    return Command(goto=[Send("check", {"document": state["document"], "spec": spec, "draft": result})])


async def check(state: CheckInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Step two: the engine checks its own draft; time, tokens and cost of both steps are counted."""
    ctx, spec, first, writer = runtime.context, state["spec"], state["draft"], get_stream_writer()
    if first.status != "ok":
        writer(BranchFinished(first))
        return {"results": [first]}
    request = check_request(state["document"], ctx.perspectives[spec.perspective], first.text)
    result = await run_one(job_for(ctx, spec, request, read_judgement), _holding(writer, [], drop_start=True))
    result.steps = [*first.steps, {"step": "check", "started_s": result.started_s, "ended_s": result.ended_s,
                                   "status": result.status}]
    result.started_s, result.first_token_s, result.ttft_ms = first.started_s, first.first_token_s, first.ttft_ms
    if result.started_s is not None and result.ended_s is not None:
        result.latency_ms = round((result.ended_s - result.started_s) * 1000, 1)
    for name in ("input_tokens", "output_tokens", "cost_usd"):
        a, b = getattr(first, name), getattr(result, name)
        setattr(result, name, None if a is None or b is None else a + b)
    result.retries += first.retries
    writer(BranchFinished(result))
    return {"results": [result]}


def _chunk_events(writer: Any, chunk: Chunk, of: int) -> Any:
    """A chunk task reports as its branch: started once, then "chunk k of n done"; its text is not streamed."""
    def emit(event: Any) -> None:
        if isinstance(event, BranchStarted):
            writer(event)
        elif isinstance(event, BranchFinished):
            writer(ChunkFinished(event.result.branch_id, chunk.index, of))
    return emit


def merge_chunked(document: str, results: list[BranchResult], writer: Any) -> list[BranchResult]:
    """Per branch, merge its chunks' results into one (reported as that branch finishing)."""
    chunked = [r for r in results if r.chunk is not None]
    if not chunked:
        return results
    chunks = {c.index: c for c in split_text(document)}
    by_branch: dict[str, list[tuple[Chunk, BranchResult]]] = {}
    for r in chunked:
        by_branch.setdefault(r.branch_id, []).append((chunks[r.chunk or 1], r))
    merged = [merge_chunks(parts) for parts in by_branch.values()]
    for m in merged:
        writer(BranchFinished(m))
    return [r for r in results if r.chunk is None] + merged


async def aggregate(state: ReviewState) -> dict[str, Any]:
    # async: a sync node would hop through the thread pool for a few microseconds of work.
    # defer=True holds this node until the branches of the current fan-out are done, but a `check` sent by a
    # `draft` is a later step (measured: it ran once after the one-step branches, then again), so it also
    # waits until every branch has a result.
    results = state.get("results", [])
    if len({r.branch_id for r in results}) < len(state["branches"]):
        return {}
    results = merge_chunked(state["document"], results, get_stream_writer())
    return {"aggregate": reduce(results, state.get("reducer", "mean"))}


def build_review_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """One step for most branches, two (draft → check) for some: uneven lengths, so `aggregate` is deferred."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(ReviewState, context_schema=RunContext)
    builder.add_node("run_branch", run_branch, input_schema=BranchInput)
    builder.add_node("draft", draft, input_schema=BranchInput)
    builder.add_node("check", check, input_schema=CheckInput)
    builder.add_node("aggregate", aggregate, defer=True)
    builder.add_conditional_edges(START, fan_out, ["run_branch", "draft"])
    builder.add_edge("run_branch", "aggregate")
    builder.add_edge("check", "aggregate")  # `draft` has no edge: it goes on with a Send to `check`
    builder.add_edge("aggregate", END)
    return builder.compile()


# --- translation: one Send per engine, then one deferred node that judges, compares and aggregates ---


class TranslateState(TypedDict, total=False):
    document: str
    branches: list[BranchSpec]
    settings: TranslationSettings
    reducer: str
    run_id: str
    results: Annotated[list[BranchResult], operator.add]
    aggregate: Aggregate


class TranslationInput(TypedDict):
    document: str
    spec: BranchSpec
    settings: TranslationSettings


def fan_out_translations(state: TranslateState) -> list[Send]:
    return [Send("translate", {"document": state["document"], "spec": spec, "settings": state["settings"]})
            for spec in state["branches"]]


async def translate(state: TranslationInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx, spec = runtime.context, state["spec"]
    request = translation_request(state["document"], state["settings"])
    # read=None: the text is the translation
    return {"results": [await run_one(job_for(ctx, spec, request, None), get_stream_writer())]}


async def assess_and_aggregate(state: TranslateState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """After every translation: agreement, glossary, reference metrics, the judge's k samples, then the reducer."""
    results = sorted(state.get("results", []), key=lambda r: r.order)
    assessed = await assess(state["document"], results, state["settings"], runtime.context, state.get("run_id", ""))
    get_stream_writer()(assessed)
    return {"aggregate": reduce(assessed.results, state.get("reducer", "best"))}


def build_translate_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """START → one Send per engine → `translate` in parallel → one deferred `aggregate` (assess, judge, reduce)."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(TranslateState, context_schema=RunContext)
    builder.add_node("translate", translate, input_schema=TranslationInput)
    builder.add_node("aggregate", assess_and_aggregate, defer=True)  # once, after every translation
    builder.add_conditional_edges(START, fan_out_translations, ["translate"])
    builder.add_edge("translate", "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile()
