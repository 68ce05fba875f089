"""Running a plan through its graph: branch events as they happen, collected into the outcome every view shows
(the page, the CLI, exports, the history)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from parallax.config import SECRET_VARIABLES, Config
from parallax.costs import RunCost, run_cost
from parallax.reducers import reduce
from parallax.results import Aggregate, BranchResult, BranchSpec, locate_findings
from parallax.run.events import (
    Assessed,
    BranchDelta,
    BranchEvent,
    BranchFinished,
    BranchRestarted,
    BranchStarted,
    ChunkFinished,
)

if TYPE_CHECKING:  # LangGraph is imported when a run starts, not to plan or show one
    from langgraph.graph.state import CompiledStateGraph

    from parallax.run.branch import RunContext
from parallax.run.plan import RunPlan
from parallax.run.spec import spec_of


class Recorder(Protocol):
    """Keeps a run as it happens (parallax.storage.history writes it to the database)."""

    def branch(self, outcome: RunOutcome, result: BranchResult) -> None: ...

    def assessed(self, outcome: RunOutcome, assessed: Assessed) -> None: ...

    def finished(self, outcome: RunOutcome) -> None: ...


@dataclass(frozen=True)
class RunFinished:
    aggregate: Aggregate
    wall_ms: float


RunEvent = BranchEvent | Assessed | RunFinished


@dataclass
class RunOutcome:
    """Everything a run produced, as the UI, exports and storage see it. Built up event by event."""

    run_id: str
    mode: str
    reducer: str
    branches: list[BranchSpec]
    results: dict[str, BranchResult] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # live text of unfinished branches
    arrival: list[str] = field(default_factory=list)  # branch ids in the order they finished
    started: set[str] = field(default_factory=set)
    chunks_done: dict[str, int] = field(default_factory=dict)  # long documents: chunks finished per branch
    aggregate: Aggregate | None = None
    wall_ms: float | None = None
    assessment: Assessed | None = None  # translations: agreement matrix, judge samples
    recorder: Recorder | None = None  # writes to the history as events arrive
    document: str = ""  # the input text
    settings: dict[str, Any] = field(default_factory=dict)  # the run spec: enough to reproduce the run
    created_at: str | None = None
    storage_warning: str | None = None  # set when the history could not be written
    free: frozenset[str] = frozenset()  # the engines that cost nothing (a stopped branch of these cost nothing)

    @classmethod
    def for_plan(cls, plan: RunPlan) -> RunOutcome:
        free = frozenset(engine_id for engine_id, engine in plan.engines.items()
                         if engine.free or plan.config.price(engine_id) == {"input": 0, "output": 0})
        return cls(plan.run_id, plan.mode, plan.reducer, plan.branches, document=plan.document,
                   settings=spec_of(plan).to_dict(), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                   free=free)

    def cost(self) -> RunCost:
        """What the run cost, its judge included: the one total the CLI, the page and the exports show."""
        return run_cost(self.results.values(), self.assessment.judge_samples if self.assessment else None)

    def apply(self, event: RunEvent) -> None:
        if isinstance(event, BranchStarted):
            self.started.add(event.branch_id)
        elif isinstance(event, BranchDelta):
            self.texts[event.branch_id] = self.texts.get(event.branch_id, "") + event.text
        elif isinstance(event, BranchRestarted):
            self.texts[event.branch_id] = ""
        elif isinstance(event, ChunkFinished):
            self.chunks_done[event.branch_id] = self.chunks_done.get(event.branch_id, 0) + 1
        elif isinstance(event, BranchFinished):
            if self.mode == "review":
                locate_findings(event.result, self.document)
            self.results[event.result.branch_id] = event.result
            self.arrival.append(event.result.branch_id)
            if self.recorder is not None:
                self.recorder.branch(self, event.result)
        elif isinstance(event, Assessed):
            self.results.update({r.branch_id: r for r in event.results})
            self.assessment = event
            if self.recorder is not None:
                self.recorder.assessed(self, event)
        elif isinstance(event, RunFinished):
            self.aggregate, self.wall_ms = event.aggregate, event.wall_ms
            if self.recorder is not None:
                self.recorder.finished(self)

    def cancel_unfinished(self) -> None:
        """After a stop: every branch without a result is recorded as cancelled, its partial text kept."""
        for spec in self.branches:
            if spec.branch_id not in self.results:
                # A call stopped in flight may be billed, by an amount no one reported; one never started is not.
                unknown = spec.branch_id in self.started and not set(spec.engine.split("|")) <= self.free
                self.results[spec.branch_id] = cancelled = BranchResult(
                    spec.branch_id,
                    spec.order,
                    spec.engine,
                    spec.perspective,
                    spec.weight,
                    status="cancelled",
                    text=self.texts.get(spec.branch_id, ""),
                    error="cancelled before it finished"
                    if spec.branch_id in self.started
                    else "cancelled before it started",
                    cost_usd=None if unknown else 0.0,
                    unpriced_calls=int(unknown),
                )
                if self.recorder is not None:
                    self.recorder.branch(self, cancelled)
        self.aggregate = reduce(self.ordered(), self.reducer)
        if self.recorder is not None:
            self.recorder.finished(self)

    def ordered(self) -> list[BranchResult]:
        return sorted(self.results.values(), key=lambda r: r.order)

    @property
    def demo(self) -> str | None:
        """Said on every verdict, chart and card of a run with simulated engines or a simulated judge: its numbers
        show how Parallax works, not how good any text is."""
        simulated = sorted({part.split("?")[0] for s in self.branches for part in s.engine.split("|")
                            if part.startswith("sim:")})
        judge = str((self.settings.get("translation") or {}).get("judge") or "")
        parts = ([f"simulated engine{'s' if len(simulated) > 1 else ''} ({', '.join(simulated)})"] if simulated
                 else []) + (["a simulated judge"] if judge.startswith("sim:") else [])
        if not parts:
            return None
        return (f"Demo: {' and '.join(parts)} — these results show how Parallax works, not the quality of any "
                f"{'translation' if self.mode == 'translate' else 'text'}.")


@functools.cache
def _graph(mode: str) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compiled once per process: a compiled graph holds no run state and is safe to reuse."""
    from parallax.run.graph import build_review_graph, build_translate_graph

    return build_translate_graph() if mode == "translate" else build_review_graph()


def secret_values(config: Config) -> tuple[str, ...]:
    names = set(SECRET_VARIABLES) | {e.api_key_env for e in config.engines.values() if e.api_key_env}
    return tuple(v for n in names if (v := config.env.get(n or "")))


def run_context(plan: RunPlan) -> RunContext:
    """What the plan's branches need at run time (engines, deadline, prices, secrets, cache), clock started now."""
    from parallax.run.branch import RunContext

    return RunContext(plan.engines, plan.config.perspectives, plan.timeout_s, asyncio.get_running_loop().time(),
                      plan.config.prices, secret_values(plan.config), plan.cache, plan.samples)


async def stream_run(plan: RunPlan) -> AsyncIterator[RunEvent]:
    """Run the plan through the graph, yielding branch events as they happen, then RunFinished.

    Closing this generator (or cancelling its consumer) cancels every in-flight provider call.
    """
    graph = _graph(plan.mode)
    wall0 = time.perf_counter()
    context = run_context(plan)
    config = {"max_concurrency": plan.concurrency} if plan.concurrency else {}
    state: dict[str, Any] = {"document": plan.document, "branches": plan.branches, "reducer": plan.reducer,
                             "run_id": plan.run_id}
    if plan.settings is not None:
        state["settings"] = plan.settings
    stream = graph.astream(state, config=config, context=context, stream_mode=["custom", "updates"])  # type: ignore[call-overload]
    async with contextlib.aclosing(stream):
        async for mode, chunk in stream:
            if mode == "custom":
                yield chunk
            elif isinstance(chunk, dict) and (chunk.get("aggregate") or {}).get("aggregate") is not None:
                yield RunFinished(chunk["aggregate"]["aggregate"], round((time.perf_counter() - wall0) * 1000, 1))


OnEvent = Callable[[RunEvent, "RunOutcome"], object]


async def execute(plan: RunPlan, on_event: OnEvent | None = None, outcome: RunOutcome | None = None) -> RunOutcome:
    """Run to the end, collecting into `outcome`; `on_event` sees every event (for progress).

    If the run is cancelled, `outcome` keeps what finished and records the rest as cancelled.
    """
    outcome = outcome or RunOutcome.for_plan(plan)
    try:
        async for event in stream_run(plan):
            outcome.apply(event)
            if on_event is not None:
                on_event(event, outcome)
    except asyncio.CancelledError:
        outcome.cancel_unfinished()
        raise
    return outcome
