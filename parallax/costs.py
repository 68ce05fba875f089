"""What calls cost, added up one way for every view (the CLI, the page, exports, a batch's files): the calls
whose cost is known are summed, the others are counted — an unknown cost is never added as $0. A total with
unpriced calls reads "at least $X; N calls unpriced" ("unknown" when nothing of it is priced), and a translation's
judge is in every total and also on its own line."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from parallax.results import BranchResult


def usd(value: float | None) -> str:
    """Dollars with two significant digits however small ($0.0000038, $0.012, $1.50): never "3.76μ", never a
    "$0.00000" that reads as free. None is unknown."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    decimals = max(2, 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return "$" + (text.rstrip("0").rstrip(".") if decimals > 2 else text)


def _calls(n: int) -> str:
    return f"{n} call{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Cost:
    """Some calls' cost: `known_usd` sums those whose cost is known, `unpriced` counts the others (no price for
    the engine, or no usage reported by a call that may have been billed)."""

    known_usd: float = 0.0
    unpriced: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.known_usd + other.known_usd, self.unpriced + other.unpriced)

    @property
    def usd(self) -> float | None:
        """The exact total; None when any call's cost is unknown."""
        return None if self.unpriced else round(self.known_usd, 8)

    def text(self) -> str:
        """"$0.012", "at least $0.012; 2 calls unpriced", or "unknown" when nothing of it is priced."""
        if not self.unpriced:
            return usd(self.known_usd)
        if not self.known_usd:
            return "unknown"
        return f"at least {usd(self.known_usd)}; {_calls(self.unpriced)} unpriced"

    def to_dict(self) -> dict[str, Any]:
        return {"usd": self.usd, "at_least_usd": round(self.known_usd, 8), "unpriced_calls": self.unpriced,
                "text": self.text()}


class Priced(Protocol):
    """One call with its cost, None when unknown (a judge call: `JudgeSample`)."""

    @property
    def cost_usd(self) -> float | None: ...


def of_calls(calls: Iterable[Priced]) -> Cost:
    """Calls of one call each (the judge's): each known cost summed, each unknown one counted."""
    total = Cost()
    for call in calls:
        total += Cost(0.0, 1) if call.cost_usd is None else Cost(call.cost_usd)
    return total


def of_result(r: BranchResult) -> Cost:
    """A branch's cost (all its calls: fallback engines, samples, steps, chunks). A result kept before unpriced
    calls were counted, with no cost, is one unpriced call."""
    if r.cost_usd is not None:
        return Cost(r.cost_usd)
    return Cost(r.cost_known_usd, r.unpriced_calls or 1)


def of_results(results: Iterable[BranchResult]) -> Cost:
    total = Cost()
    for r in results:
        total += of_result(r)
    return total


def summed(results: Iterable[BranchResult]) -> tuple[float | None, float, int]:
    """`cost_usd`, `cost_known_usd` and `unpriced_calls` of a branch made of several calls' results (its samples,
    its two steps, its chunks): every call counted, whether or not it succeeded."""
    total = of_results(results)
    return total.usd, round(total.known_usd, 8), total.unpriced


@dataclass(frozen=True)
class RunCost:
    """A run's (or one document's) cost: its branches, and its judge (None: no judge was called)."""

    branches: Cost
    judge: Cost | None = None

    @property
    def total(self) -> Cost:
        return self.branches + (self.judge or Cost())

    def judge_text(self) -> str | None:
        if self.judge is None:
            return None
        return "unknown cost" if self.judge.text() == "unknown" else self.judge.text()

    def lines(self) -> list[str]:
        """ "cost: …" (the judge included), then "judge: …" when there is one: the CLI's and the page's words."""
        judge = self.judge_text()
        total = f"cost: {self.total.text()}" + (" (branches and judge)" if judge else "")
        return [total, f"judge: {judge}"] if judge else [total]

    def to_dict(self) -> dict[str, Any]:
        return {**self.total.to_dict(), "judge": None if self.judge is None else
                {**self.judge.to_dict(), "text": self.judge_text()}}

    def __add__(self, other: RunCost) -> RunCost:
        judge = None if self.judge is None and other.judge is None else (self.judge or Cost()) + (other.judge or Cost())
        return RunCost(self.branches + other.branches, judge)

    def columns(self, prefix: str = "") -> dict[str, Any]:
        """Spreadsheet columns: the total (the judge in it) exact, or empty with what is known and how many calls
        are not; the judge's the same way (empty without a judge)."""
        total, judge = self.total, self.judge
        return {f"{prefix}cost_usd": total.usd, f"{prefix}cost_at_least_usd": round(total.known_usd, 8),
                f"{prefix}unpriced_calls": total.unpriced, "judge_cost_usd": judge.usd if judge else None,
                "judge_cost_at_least_usd": round(judge.known_usd, 8) if judge else None,
                "judge_unpriced_calls": judge.unpriced if judge else None}

    @classmethod
    def from_columns(cls, row: dict[str, Any], prefix: str = "") -> RunCost:
        """Back from `columns` (a batch's row of one document)."""
        def number(name: str) -> float:
            value = row.get(name)
            return float(value) if value not in (None, "") else 0.0

        total = Cost(number(f"{prefix}cost_at_least_usd"), int(number(f"{prefix}unpriced_calls")))
        if row.get("judge_unpriced_calls") in (None, ""):
            return cls(total)
        judge = Cost(number("judge_cost_at_least_usd"), int(number("judge_unpriced_calls")))
        return cls(Cost(total.known_usd - judge.known_usd, total.unpriced - judge.unpriced), judge)


def run_cost(results: Iterable[BranchResult], judge_calls: Iterable[Priced] | None = None) -> RunCost:
    """The one total every view shows: the branches' calls and the judge's (`judge_calls`: its samples)."""
    calls = list(judge_calls or [])
    return RunCost(of_results(results), of_calls(calls) if calls else None)
