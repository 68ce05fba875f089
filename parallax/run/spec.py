"""A run as data: what to run and how, never the document, an engine object or a key. Every path builds one and
stores it (a run in the history, a provider batch's job), and a runnable plan is bound from it against the
configuration: the perspectives it used travel with it, so a rubric edited in `parallax.toml` after a run, or a
perspective added on the page only, does not change what a stored run or batch means.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parallax.perspectives import Perspective
from parallax.results import BranchSpec
from parallax.translate.request import TranslationSettings

if TYPE_CHECKING:
    from parallax.config import Config
    from parallax.run.plan import RunPlan


@dataclass(frozen=True)
class RunSpec:
    mode: str  # review | translate
    branches: tuple[BranchSpec, ...]
    perspectives: dict[str, Perspective] = field(default_factory=dict)  # those the branches use, as they were
    reducer: str = "mean"
    concurrency: int | None = None
    timeout_s: float = 120.0
    samples: int = 1  # reviews: calls per branch
    translation: TranslationSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; the keys of a stored run's settings (`engines` is kept for the history's filters)."""
        return {"mode": self.mode, "reducer": self.reducer, "concurrency": self.concurrency,
                "timeout_s": self.timeout_s, "samples": self.samples,
                "engines": list(dict.fromkeys(b.engine for b in self.branches)),
                "branches": [dataclasses.asdict(b) for b in self.branches],
                "perspectives": {name: dataclasses.asdict(p) for name, p in self.perspectives.items()},
                "translation": dataclasses.asdict(self.translation) if self.translation else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any], mode: str | None = None,
                  branches: list[BranchSpec] | None = None) -> RunSpec:
        """From `to_dict`; a run stored before specs were stored whole gives its mode and branches apart."""
        translation = data.get("translation")
        return cls(
            mode=data.get("mode") or mode or "review",
            branches=tuple(BranchSpec(**b) for b in data["branches"]) if data.get("branches") else
            tuple(branches or ()),
            perspectives={name: Perspective(**p) for name, p in (data.get("perspectives") or {}).items()},
            reducer=data.get("reducer", "mean"), concurrency=data.get("concurrency"),
            timeout_s=float(data.get("timeout_s", 120.0)), samples=int(data.get("samples", 1)),
            translation=TranslationSettings(**{**translation, "glossary": tuple(map(tuple, translation["glossary"]))})
            if translation else None)


def spec_of(plan: RunPlan) -> RunSpec:
    """The spec of a planned run: its branches and settings, and a snapshot of the perspectives they use."""
    used = {b.perspective for b in plan.branches}
    return RunSpec(plan.mode, tuple(plan.branches),
                   {name: p for name, p in plan.config.perspectives.items() if name in used},
                   plan.reducer, plan.concurrency, plan.timeout_s, plan.samples, plan.settings)


def bind(spec: RunSpec, document: str, config: Config, only: list[BranchSpec] | None = None,
         run_id: str | None = None) -> RunPlan:
    """The runnable plan of a spec: its engines built from the configuration (keys, servers), its perspectives
    its own. `only`: a subset of its branches (a retry)."""
    from parallax.run.plan import RunPlan, resolve_engines

    config = dataclasses.replace(config, perspectives={**config.perspectives, **spec.perspectives})
    branches = list(spec.branches if only is None else only)
    kind = "translate" if spec.mode == "translate" else "review"
    engines = resolve_engines(list(dict.fromkeys(b.engine for b in branches)), config, kind)
    if spec.translation is not None and spec.translation.judge:
        engines.update(resolve_engines([spec.translation.judge], config, "judge"))
    plan = RunPlan(document, branches, engines, config, spec.reducer, spec.concurrency, spec.timeout_s, spec.mode,
                   spec.translation, samples=spec.samples)
    if run_id is not None:
        plan.run_id = run_id
    return plan


def rebound(plan: RunPlan) -> RunPlan:
    """The plan with its engines built afresh (in another process: engines hold clients and connections)."""
    return dataclasses.replace(bind(spec_of(plan), plan.document, plan.config, run_id=plan.run_id), cache=plan.cache)
