"""Reducers: pure functions that merge branch results into one aggregate, registered by name."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from parallax.results import Aggregate, BranchResult
from parallax.stats import ALPHA, paired_tests, smallest_p

Reducer = Callable[[Sequence[BranchResult]], Aggregate]
REDUCERS: dict[str, Reducer] = {}


def reducer(name: str) -> Callable[[Callable[[list[BranchResult]], tuple[float, str]]], Reducer]:
    """Register `fn(scored results) -> (score, formula)`; the wrapper handles failures and counts."""

    def register(fn: Callable[[list[BranchResult]], tuple[float, str]]) -> Reducer:
        def reduce(results: Sequence[BranchResult]) -> Aggregate:
            # Declared order, whatever order the branches arrived in.
            ordered = sorted(results, key=lambda r: r.order)
            n_ok, n_total = sum(r.ok for r in ordered), len(ordered)
            # A non-translation (a copy of the source, another language…) is never merged into a translation's score.
            scored = [r for r in ordered if r.scored and not r.non_translation]
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
    """Select-best: the highest score (for translations, the judge's mean over segments); ties broken by agreement.

    A translation flagged as a non-translation never wins. With judge scores on segments, the leader is tested
    against every other candidate, paired over the segments (permutation test, Holm-adjusted): "clear" only when
    it beats them all at 5%. Without scores, three or more translations are ranked by their agreement with the
    others (a consensus, said so); two cannot be (agreement is symmetric), and an unverified one cannot win that way.
    Repeated judge or review samples say how consistent the model is with itself, never that a lead is clear.
    """
    ordered = sorted(results, key=lambda r: r.order)
    answered = [r for r in ordered if r.ok]
    n_total = len(ordered)
    if not answered:
        return Aggregate("best", None, 0, n_total, None, f"no branch succeeded (0 of {n_total})", n_scored=0)
    # Translations without a judge were never meant to be scored: no "judged 0 of 3" then.
    n_scored = sum(r.scored for r in answered) if any(r.scored or r.judge_error for r in answered) else None
    candidates = [r for r in answered if not r.non_translation]
    excluded = [r for r in answered if r.non_translation]
    if not candidates:
        flags = ", ".join(f"{r.branch_id}: {r.non_translation}" for r in answered)
        return Aggregate("best", None, len(answered), n_total, None,
                         f"no translation to pick: every reply is a non-translation ({flags})", n_scored=n_scored)
    scored = [r for r in candidates if r.scored]
    if scored:
        ranked = sorted(scored, key=lambda r: (_score(r), r.agreement or -1.0), reverse=True)
        return _by_score(ranked, len(answered), n_total, n_scored, excluded)
    agreeing = [r for r in candidates if r.agreement is not None and not r.unverified]
    if len(agreeing) >= 3:
        ranked = sorted(agreeing, key=lambda r: r.agreement or -1.0, reverse=True)
        winner, values = ranked[0], [r.agreement or 0.0 for r in ranked]
        formula = (f"best by agreement (no scores): {winner.branch_id} {values[0]:g} vs {ranked[1].branch_id} "
                   f"{values[1]:g}" + _excluded(excluded, candidates, agreeing))
        return Aggregate("best", None, len(answered), n_total, None, formula, winner.branch_id,
                         round(values[0] - values[1], 4), n_scored=n_scored, basis="agreement")
    if len(candidates) == 1:
        return Aggregate("best", None, len(answered), n_total, None,
                         f"only {candidates[0].branch_id} is a translation{_excluded(excluded)}: nothing to compare",
                         candidates[0].branch_id, None, n_scored=n_scored)
    reason = ("two translations and no judge: agreement is symmetric, so it cannot pick one"
              if len(candidates) == 2 else "no judge scores, and too few verified translations to rank by agreement")
    return Aggregate("best", None, len(answered), n_total, None, f"no best: {reason}{_excluded(excluded)}",
                     n_scored=n_scored)


def _by_score(ranked: list[BranchResult], n_ok: int, n_total: int, n_scored: int | None,
              excluded: list[BranchResult]) -> Aggregate:
    winner, values = ranked[0], [_score(r) for r in ranked]
    judged = winner.judge_score is not None
    basis = "judge" if judged else "score"
    formula = f"best by {'judge score' if judged else 'score'}: {winner.branch_id} {values[0]:g}"
    if len(ranked) == 1:
        return Aggregate("best", winner.score, n_ok, n_total, None, formula + _excluded(excluded), winner.branch_id,
                         None, n_scored=n_scored, basis=basis)
    margin = round(values[0] - values[1], 4)
    formula += f" vs {ranked[1].branch_id} {values[1]:g}"
    if values[0] != values[1]:
        formula += f", ahead by {margin:g}"
    elif (winner.agreement or -1.0) > (ranked[1].agreement or -1.0):
        formula += f" (tie broken by agreement {winner.agreement:g} vs {_fmt(ranked[1].agreement)})"
    else:
        formula += " (a tie on both score and agreement: the first in declared order wins)"
    aggregate = Aggregate("best", winner.score, n_ok, n_total, round(max(values) - min(values), 4),
                          formula + _excluded(excluded), winner.branch_id, margin, n_scored=n_scored, basis=basis,
                          consistency=_consistency(ranked, judged))
    if judged and all(r.segment_scores for r in ranked):
        tests = paired_tests({r.branch_id: r.segment_scores for r in ranked}, winner.branch_id)
        n = min((t.n for t in tests), default=0)
        aggregate.n_units, aggregate.tests = n, [t.to_dict() for t in tests]
        runner = next((t for t in tests if t.other == ranked[1].branch_id), None)
        if runner is not None:
            aggregate.lead_low, aggregate.lead_high = runner.low, runner.high
        if tests and smallest_p(n) <= ALPHA / len(tests):
            aggregate.confident = all(t.clear for t in tests)
            aggregate.p_value = max(t.p_adjusted for t in tests)
    return aggregate


def _consistency(ranked: list[BranchResult], judged: bool) -> str | None:
    """With k samples: in how many the leader scored above every other (the model agreeing with itself)."""
    k = len(ranked[0].samples)
    if k < 2 or any(len(r.samples) != k for r in ranked):
        return None
    ahead = sum(all(ranked[0].samples[i] > r.samples[i] for r in ranked[1:]) for i in range(k))
    who = "the judge" if judged else "the model"
    return f"{who} preferred it in {ahead} of {k} samples (its consistency with itself, not evidence of a difference)"


def _excluded(excluded: list[BranchResult], candidates: list[BranchResult] | None = None,
              kept: list[BranchResult] | None = None) -> str:
    unverified = [r for r in candidates or [] if kept is not None and r not in kept and r.unverified]
    out = "; not candidates: " + ", ".join(f"{r.branch_id} ({r.non_translation})" for r in excluded) if excluded else ""
    if unverified:
        out += "; unverified (language not confirmed, agrees with no other): " + ", ".join(
            r.branch_id for r in unverified)
    return out


REDUCERS["best"] = _best
