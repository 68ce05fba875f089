"""The review graph: START fans out one Send per branch, `run_branch` nodes run in parallel, `aggregate` merges."""

from __future__ import annotations

import operator
import re
from functools import cache
from typing import Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from parallax.reducers import reduce
from parallax.results import Aggregate, BranchResult, BranchSpec
from parallax.review.chunks import Chunk
from parallax.run.branch import RunContext
from parallax.run.pipeline import (
    check,
    draft,
    merge_branch,
    review_chunk,
    review_chunks,
    review_whole,
    translate_branch,
    two_step,
)
from parallax.translate.request import TranslationSettings


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
    chunks = review_chunks(state["document"])
    if len(chunks) == 1:
        return [Send("draft" if two_step(runtime.context, spec) else "run_branch",
                     {"document": state["document"], "spec": spec}) for spec in state["branches"]]
    return [Send("run_branch", {"document": c.text, "spec": spec, "chunk": c, "of": len(chunks)})
            for spec in state["branches"] for c in chunks]


async def run_branch(state: BranchInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """A branch, or one chunk of it (the map step); the steps themselves are the pipeline's, as in a batch."""
    chunk, writer = state.get("chunk"), get_stream_writer()
    if chunk is not None:
        return {"results": [await review_chunk(runtime.context, state["spec"], chunk, state["of"], writer)]}
    return {"results": [await review_whole(runtime.context, state["spec"], state["document"], writer)]}


class CheckInput(TypedDict):
    document: str
    spec: BranchSpec
    draft: BranchResult


async def draft_step(state: BranchInput, runtime: Runtime[RunContext]) -> Command[Literal["check"]]:
    """Step one of two; always on to `check` (which passes a failed draft through): every branch reaches
    `aggregate` the same way."""
    first = await draft(runtime.context, state["spec"], state["document"], get_stream_writer())
    return Command(goto=[Send("check", {"document": state["document"], "spec": state["spec"], "draft": first})])


async def check_step(state: CheckInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Step two: the engine checks its own draft."""
    result = await check(runtime.context, state["spec"], state["document"], state["draft"], get_stream_writer())
    return {"results": [result]}


def merge_chunked(document: str, results: list[BranchResult], writer: Any) -> list[BranchResult]:
    """The reduce step: per branch, its chunks' results merged into one (reported as that branch finishing)."""
    chunked = [r for r in results if r.chunk is not None]
    if not chunked:
        return results
    chunks = {c.index: c for c in review_chunks(document)}
    by_branch: dict[str, list[tuple[Chunk, BranchResult]]] = {}
    for r in chunked:
        by_branch.setdefault(r.branch_id, []).append((chunks[r.chunk or 1], r))
    merged = [merge_branch(sorted(parts, key=lambda p: p[0].index), writer) for parts in by_branch.values()]
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
    builder.add_node("draft", draft_step, input_schema=BranchInput)
    builder.add_node("check", check_step, input_schema=CheckInput)
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
    result = await translate_branch(runtime.context, state["spec"], state["document"], state["settings"],
                                    get_stream_writer())
    return {"results": [result]}


async def assess_and_aggregate(state: TranslateState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """After every translation: agreement, glossary, reference metrics, the judge's k samples, then the reducer."""
    results = sorted(state.get("results", []), key=lambda r: r.order)
    from parallax.translate.assess import assess  # a review never needs the judge, segments or metrics

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


@cache
def diagram(two_step: bool) -> str:
    """The review graph as a clean Mermaid diagram: no HTML in the labels, and the draft → check nodes only when a
    perspective of the run took two steps. Drawn once per process (about a second): the app warms it up."""
    text = build_review_graph().get_graph().draw_mermaid()
    text = re.sub(r"<hr/?>.*?defer = True.*?</small>", " · waits for every branch", text)
    text = re.sub(r"</?[a-z]+/?>", "", text)
    if not two_step:
        text = "\n".join(line for line in text.splitlines() if not re.search(r"\b(draft|check)\b", line))
    return text
