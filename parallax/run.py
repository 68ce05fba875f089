"""Planning a run (all validation, before any call) and streaming it: the one entry point for CLI and UI."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from .assess import Assessed
from .config import SECRET_VARIABLES, Config
from .documents import InputError, check_document
from .engines import EngineError, resolve_engine
from .engines.base import Engine
from .languages import check_pair
from .reducers import REDUCERS, reduce
from .results import Aggregate, BranchResult, BranchSpec, locate_findings
from .runner import BranchDelta, BranchEvent, BranchFinished, BranchRestarted, BranchStarted, CallCache, ChunkFinished
from .translation import JUDGE_PROTOCOLS, TranslationSettings

if TYPE_CHECKING:  # LangGraph is imported when a run starts, not to plan or show one
    from langgraph.graph.state import CompiledStateGraph

    from .runner import RunContext


@dataclass
class RunPlan:
    """A validated run: nothing in it can fail as bad input any more."""

    document: str
    branches: list[BranchSpec]
    engines: dict[str, Engine]
    config: Config
    reducer: str = "mean"
    concurrency: int | None = None
    timeout_s: float = 120.0
    mode: str = "review"
    settings: TranslationSettings | None = None  # translation runs only
    run_id: str = field(default_factory=lambda: new_run_id())
    cache: CallCache | None = None  # the history's cache of identical calls; None: always call
    samples: int = 1  # reviews: how many times each branch asks its engine (mean, sd and interval over them)


MAX_SAMPLES = 5


def plan_settings(plan: RunPlan) -> dict[str, Any]:
    """Everything needed to show, re-export or retry the run — never a key: its spec, as stored."""
    from .spec import spec_of

    return spec_of(plan).to_dict()


def plan_key(plan: RunPlan) -> str:
    """What the results of a run depend on (text, branches, their perspectives, translation settings, samples):
    when it changes after a run, the results shown are for the previous input. The reducer is not part of it:
    switching it recomputes from the stored results."""
    perspectives = {b.perspective: dataclasses.asdict(plan.config.perspectives[b.perspective])
                    for b in plan.branches if b.perspective in plan.config.perspectives}
    data = {"document": plan.document, "mode": plan.mode, "samples": plan.samples,
            "branches": [(b.branch_id, b.weight) for b in plan.branches], "perspectives": perspectives,
            "settings": dataclasses.asdict(plan.settings) if plan.settings else None}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def plan_review(
    document: str,
    config: Config,
    perspectives: Sequence[str] = (),
    engines: Sequence[str] = (),
    reducer: str = "mean",
    concurrency: int | None = None,
    timeout_s: float = 120.0,
    samples: int = 1,
) -> RunPlan:
    """Check everything a user chose; raise InputError with one clear sentence when something is wrong."""
    check_document(document)
    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError(f"samples must be between 1 and {MAX_SAMPLES}")
    names = list(dict.fromkeys(perspectives or ["technical", "business", "legal"]))
    unknown = [n for n in names if n not in config.perspectives]
    if unknown:
        raise InputError(f"unknown perspective {unknown[0]!r}; choose from: {', '.join(config.perspectives)}")
    _check_limits(reducer, concurrency, timeout_s)
    engine_ids = list(dict.fromkeys(e.strip() for e in (engines or config.default_engines())))
    built = resolve_engines(engine_ids, config, "review")
    branches = [
        BranchSpec(f"{p}@{e}", i, p, e, config.perspectives[p].weight)
        for i, (p, e) in enumerate((p, e) for p in names for e in engine_ids)
    ]
    return RunPlan(document, branches, built, config, reducer, concurrency, timeout_s, samples=samples)


def _check_limits(reducer: str, concurrency: int | None, timeout_s: float) -> None:
    if reducer not in REDUCERS:
        raise InputError(f"unknown reducer {reducer!r}; choose one of: {', '.join(REDUCERS)}")
    if concurrency is not None and concurrency < 1:
        raise InputError("concurrency must be at least 1")
    if not timeout_s > 0:
        raise InputError("the timeout must be more than 0 seconds")


def resolve_engines(engine_ids: Sequence[str], config: Config, kind: str) -> dict[str, Engine]:
    """Every engine of every fallback chain ("A|B|C"), checked for the task before anything is called."""
    built: dict[str, Engine] = {}
    for engine_id in engine_ids:
        parts = [p.strip() for p in engine_id.split("|")]
        if not all(parts):
            raise InputError(f"fallback chain {engine_id!r} has an empty link; write it as A|B|C")
        for part in parts:
            try:
                engine = built.get(part) or resolve_engine(part, config)
            except EngineError as exc:
                raise InputError(str(exc)) from None
            if kind not in engine.kinds:
                does = " and ".join(sorted(engine.kinds))
                raise InputError(f"{part} cannot {kind}: it is for {does} only")
            built[part] = engine
    return built


def with_engines(plan: RunPlan) -> RunPlan:
    """The plan with its engines built afresh (in another process: engines hold clients and connections)."""
    from .spec import bind, spec_of

    return dataclasses.replace(bind(spec_of(plan), plan.document, plan.config, run_id=plan.run_id), cache=plan.cache)


def plan_translate(
    document: str,
    config: Config,
    settings: TranslationSettings,
    engines: Sequence[str] = (),
    reducer: str = "best",
    concurrency: int | None = None,
    timeout_s: float = 120.0,
) -> RunPlan:
    """Check a translation run: text, language pair (per engine), engines, judge, reference, limits."""
    check_document(document)
    try:
        source, target = check_pair(settings.source, settings.target)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    settings = dataclasses.replace(settings, source=source, target=target)
    _check_limits(reducer, concurrency, timeout_s)
    if not 1 <= settings.judge_samples <= MAX_SAMPLES:
        raise InputError(f"judge samples must be between 1 and {MAX_SAMPLES}")
    if settings.judge_protocol not in JUDGE_PROTOCOLS:
        raise InputError(f"judge protocol must be one of: {', '.join(JUDGE_PROTOCOLS)}")
    if settings.reference is not None and not settings.reference.strip():
        raise InputError("the reference translation is empty")
    engine_ids = list(dict.fromkeys(e.strip() for e in (engines or config.default_translation_engines())))
    built = resolve_engines(engine_ids, config, "translate")
    for engine in built.values():  # a service that cannot do the pair says so before anything is sent
        problem = engine.pair_problem(source, target) if hasattr(engine, "pair_problem") else None
        if problem:
            raise InputError(problem)
    if settings.judge:
        if "|" in settings.judge:
            raise InputError("the judge must be one engine, not a fallback chain")
        built.update(resolve_engines([settings.judge], config, "judge"))
    branches = [BranchSpec(e, i, "translation", e) for i, e in enumerate(engine_ids)]
    return RunPlan(document, branches, built, config, reducer, concurrency, timeout_s, "translate", settings)


class Recorder(Protocol):
    """Keeps a run as it happens (parallax.history writes it to the database)."""

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
    settings: dict[str, Any] = field(default_factory=dict)  # plan_settings: enough to reproduce the run
    created_at: str | None = None
    storage_warning: str | None = None  # set when the history could not be written

    @classmethod
    def for_plan(cls, plan: RunPlan) -> RunOutcome:
        return cls(plan.run_id, plan.mode, plan.reducer, plan.branches, document=plan.document,
                   settings=plan_settings(plan), created_at=datetime.now(UTC).isoformat(timespec="seconds"))

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
                )
                if self.recorder is not None:
                    self.recorder.branch(self, cancelled)
        self.aggregate = reduce(self.ordered(), self.reducer)
        if self.recorder is not None:
            self.recorder.finished(self)

    def ordered(self) -> list[BranchResult]:
        return sorted(self.results.values(), key=lambda r: r.order)


@functools.cache
def _graph(mode: str) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compiled once per process: a compiled graph holds no run state and is safe to reuse."""
    from .graph import build_review_graph, build_translate_graph

    return build_translate_graph() if mode == "translate" else build_review_graph()


def secret_values(config: Config) -> tuple[str, ...]:
    names = set(SECRET_VARIABLES) | {e.api_key_env for e in config.engines.values() if e.api_key_env}
    return tuple(v for n in names if (v := config.env.get(n or "")))


def run_context(plan: RunPlan) -> RunContext:
    """What the plan's branches need at run time (engines, deadline, prices, secrets, cache), clock started now."""
    from .runner import RunContext

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


def plan_from_options(options: dict[str, Any], text: str, config: Config) -> RunPlan:
    """A plan from the command line's options (a dict of them): the CLI, and a provider batch collected later
    from its stored options, build it the same way."""
    from .documents import decode_document, read_file
    from .translation import parse_glossary

    args = SimpleNamespace(**{"reference": None, "glossary": None, "tone": "", "samples": 1, "judge": None,
                              "no_judge": False, "judge_samples": 1, "judge_protocol": "compare", **options})
    if args.command == "review":
        return plan_review(text, config, args.perspective, args.engine, args.reducer, args.concurrency, args.timeout,
                           args.samples)
    glossary: tuple[tuple[str, str], ...] = ()
    if args.glossary:
        try:
            glossary = parse_glossary(decode_document(read_file(args.glossary), args.glossary))
        except ValueError as exc:
            raise InputError(f"{args.glossary}: {exc}") from None
    reference = decode_document(read_file(args.reference), args.reference) if args.reference else None
    judge = None if args.no_judge else (args.judge or config.default_judge())
    settings = TranslationSettings(args.source, args.target, glossary, args.tone, reference, judge,
                                   args.judge_samples, args.judge_protocol)
    return plan_translate(text, config, settings, args.engine, args.reducer, args.concurrency, args.timeout)
