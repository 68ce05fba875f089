"""Reducers: pure functions that merge branch results into one aggregate, registered by name."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from parallax.results import Aggregate, BranchResult
from parallax.stats import difference

Reducer = Callable[[Sequence[BranchResult]], Aggregate]
REDUCERS: dict[str, Reducer] = {}


def reducer(name: str) -> Callable[[Callable[[list[BranchResult]], tuple[float, str]]], Reducer]:
    """Register `fn(scored results) -> (score, formula)`; the wrapper handles failures and counts."""

    def register(fn: Callable[[list[BranchResult]], tuple[float, str]]) -> Reducer:
        def reduce(results: Sequence[BranchResult]) -> Aggregate:
            # Declared order, whatever order the branches arrived in.
            ordered = sorted(results, key=lambda r: r.order)
            n_ok, n_total = sum(r.ok for r in ordered), len(ordered)
            scored = [r for r in ordered if r.scored]
            if not scored:
                return Aggregate(name, None, n_ok, n_total, None, _nothing_scored(n_ok, n_total), n_scored=0)
            value, formula = fn(scored)
            scores = [_score(r) for r in scored]
            return Aggregate(name, round(value, 4), n_ok, n_total, round(max(scores) - min(scores), 4), formula,
                             n_scored=len(scored))

        reduce.__name__ = f"reduce_{name}"
        reduce.__doc__ = fn.__doc__
        REDUCERS[name] = reduce
        return reduce

    return register


def _nothing_scored(n_ok: int, n_total: int) -> str:
    if not n_ok:
        return f"no branch succeeded (0 of {n_total})"
    return f"no score to merge: {n_ok} of {n_total} succeeded, none was scored"


def _score(r: BranchResult) -> float:
    assert r.score is not None
    return r.score


def _list(results: list[BranchResult]) -> str:
    return ", ".join(f"{_score(r):g}" for r in results)


@reducer("mean")
def _mean(results: list[BranchResult]) -> tuple[float, str]:
    """Arithmetic mean of the successful branches."""
    value = statistics.fmean(_score(r) for r in results)
    return value, f"mean({_list(results)}) = {value:.2f}"


@reducer("weighted")
def _weighted(results: list[BranchResult]) -> tuple[float, str]:
    """Mean weighted by each perspective's weight."""
    total = sum(r.weight for r in results)
    if total <= 0:
        value = statistics.fmean(_score(r) for r in results)
        return value, f"mean({_list(results)}) = {value:.2f} (all weights were 0)"
    value = sum(_score(r) * r.weight for r in results) / total
    terms = " + ".join(f"{_score(r):g}×{r.weight:g}" for r in results)
    return value, f"({terms}) / {total:g} = {value:.2f}"


@reducer("median")
def _median(results: list[BranchResult]) -> tuple[float, str]:
    """Median: robust to one outlying branch."""
    value = statistics.median(_score(r) for r in results)
    return value, f"median({_list(results)}) = {value:.2f}"


@reducer("min")
def _min(results: list[BranchResult]) -> tuple[float, str]:
    """The harshest branch: a text is only as good as its weakest perspective."""
    value = min(_score(r) for r in results)
    return value, f"min({_list(results)}) = {value:.2f}"


@reducer("max")
def _max(results: list[BranchResult]) -> tuple[float, str]:
    """The most favourable branch."""
    value = max(_score(r) for r in results)
    return value, f"max({_list(results)}) = {value:.2f}"


def reduce(results: Sequence[BranchResult], method: str) -> Aggregate:
    """Apply the reducer registered under `method`."""
    try:
        return REDUCERS[method](results)
    except KeyError:
        raise ValueError(f"unknown reducer {method!r}; choose one of: {', '.join(REDUCERS)}") from None


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _best(results: Sequence[BranchResult]) -> Aggregate:
    """Select-best: the highest score (the judge's, for translations); ties broken by agreement with the others.

    A translation flagged as a non-translation (empty, a copy of the source, the wrong language) never wins.
    Without any score (no judge), the branch that agrees most with the others wins. With 3 or more samples, the
    leader's lead over the runner-up is tested: paired over the samples, its 95% bootstrap interval must exclude 0,
    else there is "no clear winner" (`confident` False).
    """
    ordered = sorted(results, key=lambda r: r.order)
    answered = [r for r in ordered if r.ok]
    n_total = len(ordered)
    if not answered:
        return Aggregate("best", None, 0, n_total, None, f"no branch succeeded (0 of {n_total})", n_scored=0)
    # Translations without a judge were never meant to be scored: no "judged 0 of 3" then.
    n_scored = sum(r.scored for r in answered) if any(r.scored or r.judge_error for r in answered) else None
    candidates = [r for r in answered if not r.non_translation]
    if not candidates:
        flags = ", ".join(f"{r.branch_id}: {r.non_translation}" for r in answered)
        return Aggregate("best", None, len(answered), n_total, None,
                         f"no translation to pick: every reply is a non-translation ({flags})", n_scored=n_scored)
    excluded = [r for r in answered if r.non_translation]
    scored = [r for r in candidates if r.scored]
    if scored:
        ranked = sorted(scored, key=lambda r: (_score(r), r.agreement or -1.0), reverse=True)
        key, basis = (lambda r: _score(r)), "score"
    elif any(r.agreement is not None for r in candidates):
        ranked = sorted(candidates, key=lambda r: r.agreement or -1.0, reverse=True)
        key, basis = (lambda r: r.agreement or 0.0), "agreement (no scores)"
    else:
        winner = candidates[0]
        return Aggregate("best", None, len(answered), n_total, None,
                         f"only {winner.branch_id} answered{_excluded(excluded)}: nothing to compare",
                         winner.branch_id, None, n_scored=n_scored)
    winner = ranked[0]
    values = [key(r) for r in ranked]
    margin = round(values[0] - values[1], 4) if len(values) > 1 else None
    tie = len(values) > 1 and values[0] == values[1]
    formula = f"best by {basis}: {winner.branch_id} {values[0]:g}"
    lead = None
    if len(ranked) > 1:
        formula += f" vs {ranked[1].branch_id} {values[1]:g}"
        if not tie:
            formula += f", ahead by {margin:g}"
        elif (winner.agreement or -1.0) > (ranked[1].agreement or -1.0):
            formula += f" (tie broken by agreement {winner.agreement:g} vs {_fmt(ranked[1].agreement)})"
        else:
            formula += " (a tie on both score and agreement: the first in declared order wins)"
        if basis == "score":
            a, b = winner.samples or [_score(winner)], ranked[1].samples or [_score(ranked[1])]
            lead = difference(a, b, paired=len(a) == len(b))
            if lead is not None and lead.interval:
                formula += f"; lead {lead.interval} over {lead.n} samples"
    formula += _excluded(excluded)
    spread = round(max(values) - min(values), 4) if scored else None
    confident = None if lead is None else lead.excludes_zero()
    return Aggregate("best", winner.score, len(answered), n_total, spread, formula, winner.branch_id, margin,
                     n_scored=n_scored, confident=confident, lead_low=lead.low if lead else None,
                     lead_high=lead.high if lead else None)


def _excluded(excluded: list[BranchResult]) -> str:
    if not excluded:
        return ""
    return "; not candidates: " + ", ".join(f"{r.branch_id} ({r.non_translation})" for r in excluded)


REDUCERS["best"] = _best
