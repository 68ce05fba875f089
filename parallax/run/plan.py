"""Planning a run: every choice a user made checked before any call (text, perspectives, engines, languages,
limits), and the runnable plan bound to its engines."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from parallax.config import Config
from parallax.documents import InputError, check_document
from parallax.engines.base import Engine
from parallax.engines.registry import EngineError, resolve_engine
from parallax.languages import check_pair
from parallax.reducers import REDUCERS
from parallax.results import BranchSpec
from parallax.run.branch import CallCache
from parallax.translate.request import JUDGE_PROTOCOLS, TranslationSettings

if TYPE_CHECKING:  # LangGraph is imported when a run starts, not to plan or show one

    pass


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
        problem = engine.pair_problem(source, target)
        if problem:
            raise InputError(problem)
    if settings.judge:
        if "|" in settings.judge:
            raise InputError("the judge must be one engine, not a fallback chain")
        built.update(resolve_engines([settings.judge], config, "judge"))
    branches = [BranchSpec(e, i, "translation", e) for i, e in enumerate(engine_ids)]
    return RunPlan(document, branches, built, config, reducer, concurrency, timeout_s, "translate", settings)


def plan_from_options(options: dict[str, Any], text: str, config: Config) -> RunPlan:
    """A plan from the command line's options (a dict of them): the CLI, and a provider batch collected later
    from its stored options, build it the same way."""
    from parallax.documents import decode_document, read_file
    from parallax.translate.request import parse_glossary

    args = SimpleNamespace(**{"reference": None, "glossary": None, "tone": "", "samples": 1, "judge": None,
                              "no_judge": False, "judge_samples": 1, "judge_protocol": "segments", **options})
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
    candidates = args.engine or config.default_translation_engines()
    judge = None if args.no_judge else (args.judge or config.default_judge(candidates))
    settings = TranslationSettings(args.source, args.target, glossary, args.tone, reference, judge,
                                   args.judge_samples, args.judge_protocol)
    return plan_translate(text, config, settings, args.engine, args.reducer, args.concurrency, args.timeout)
