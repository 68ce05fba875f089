"""Two runs side by side: which pair to compare by default, and their branches matched by perspective × engine or
by engine alone (a row may be in one run only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from parallax.results import BranchResult

MatchBy = Literal["branch", "engine"]


@dataclass(frozen=True)
class Match:
    """One row of a comparison: what it is keyed by, and each run's results under that key (none: not in that run).
    Matched by engine, `perspective` is None and a run may have several results (one per perspective)."""

    perspective: str | None
    engine: str
    a: tuple[BranchResult, ...]
    b: tuple[BranchResult, ...]

    @property
    def presence(self) -> str:
        """ "A and B", "only in A" or "only in B": a row one run lacks says so."""
        if self.a and self.b:
            return "A and B"
        return "only in A" if self.a else "only in B"


def match_runs(a: Iterable[BranchResult], b: Iterable[BranchResult], by: MatchBy = "branch") -> list[Match]:
    """The results of run A and run B matched by key — (perspective, engine) for "branch", the engine for "engine".
    The keys both runs have come first, then those only A has, then those only B has, each in its run's order."""
    def key(r: BranchResult) -> tuple[str | None, str]:
        return (r.perspective if by == "branch" else None, r.engine)

    def grouped(results: Iterable[BranchResult]) -> dict[tuple[str | None, str], list[BranchResult]]:
        groups: dict[tuple[str | None, str], list[BranchResult]] = {}
        for r in sorted(results, key=lambda r: r.order):
            groups.setdefault(key(r), []).append(r)
        return groups

    in_a, in_b = grouped(a), grouped(b)
    matches = [Match(perspective, engine, tuple(in_a.get((perspective, engine), ())),
                     tuple(in_b.get((perspective, engine), ())))
               for perspective, engine in dict.fromkeys([*in_a, *in_b])]
    return sorted(matches, key=lambda m: ("A and B", "only in A", "only in B").index(m.presence))


def unscored_reason(results: Sequence[BranchResult], mode: str = "review") -> str | None:
    """Why results have no score to show, in the words of their statuses ("error", "cancelled", "error, timeout"),
    "no score" when they came back unscored ("not judged": a translation), "—" when there are none; None when any
    has a score."""
    if not results:
        return "—"
    if any(r.scored for r in results):
        return None
    failed = [r.status for r in results if not r.ok]
    return ", ".join(dict.fromkeys(failed)) if failed else "not judged" if mode == "translate" else "no score"


def default_pair(runs: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """Run A and run B to compare first, from runs listed newest first (at least two): B is the newest run, A the
    newest earlier run of the same mode (review or translate), else the next newest."""
    newest = runs[0]
    same = next((r for r in runs[1:] if r["mode"] == newest["mode"]), runs[1])
    return same["run_id"], newest["run_id"]
