"""The review graph: START fans out one Send per branch, `run_branch` nodes run in parallel, `aggregate` merges."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from .assess import assess
from .engines.base import Engine, Request
from .judgement import read_judgement, review_request
from .perspectives import Perspective
from .reducers import reduce
from .results import Aggregate, BranchResult, BranchSpec
from .runner import BranchJob, CallCache, Read
from .runner import run_branch as run_one
from .translation import TranslationSettings, translation_request


class ReviewState(TypedDict, total=False):
    document: str
    branches: list[BranchSpec]
    reducer: str
    # Branches finish in any order; each result carries its branch id and declared order.
    results: Annotated[list[BranchResult], operator.add]
    aggregate: Aggregate


class BranchInput(TypedDict):
    document: str
    spec: BranchSpec


@dataclass
class RunContext:
    """What nodes need but the state should not carry: live engine objects, limits, prices, the clock."""

    engines: dict[str, Engine]  # every engine id the run uses, each part of a fallback chain, and the judge
    perspectives: dict[str, Perspective]
    deadline_s: float
    run_started: float
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    cache: CallCache | None = None


def fan_out(state: ReviewState) -> list[Send]:
    """One Send per branch: each `run_branch` gets only its own small input."""
    return [Send("run_branch", {"document": state["document"], "spec": spec}) for spec in state["branches"]]


def job_for(ctx: RunContext, spec: BranchSpec, request: Request, read: Read | None) -> BranchJob:
    """A branch's job: its engine (or fallback chain), the run's deadline, clock, prices, secrets and cache."""
    return BranchJob(spec=spec, request=request, engines=tuple(ctx.engines[part] for part in spec.engine.split("|")),
                     deadline_s=ctx.deadline_s, run_started=ctx.run_started, prices=ctx.prices, secrets=ctx.secrets,
                     read=read, cache=ctx.cache)


async def run_branch(state: BranchInput, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx, spec = runtime.context, state["spec"]
    request = review_request(state["document"], ctx.perspectives[spec.perspective])
    return {"results": [await run_one(job_for(ctx, spec, request, read_judgement), get_stream_writer())]}


async def aggregate(state: ReviewState) -> dict[str, Any]:
    # async: a sync node would hop through the thread pool for a few microseconds of work
    return {"aggregate": reduce(state.get("results", []), state.get("reducer", "mean"))}


def _fan_out_fan_in(state: type, route: Any, name: str, node: Any, node_input: type, merge: Any
                    ) -> CompiledStateGraph[Any, Any, Any, Any]:
    """START → one Send per branch (`route`) → `name` nodes in parallel → one deferred `aggregate` → END."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(state, context_schema=RunContext)
    builder.add_node(name, node, input_schema=node_input)
    # defer: wait for every branch, however long each takes, and aggregate once.
    builder.add_node("aggregate", merge, defer=True)
    builder.add_conditional_edges(START, route, [name])
    builder.add_edge(name, "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile()


def build_review_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    return _fan_out_fan_in(ReviewState, fan_out, "run_branch", run_branch, BranchInput, aggregate)


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
    return _fan_out_fan_in(TranslateState, fan_out_translations, "translate", translate, TranslationInput,
                           assess_and_aggregate)
