"""Uncertainty for every score a user might over-read: mean, standard deviation, 95% bootstrap intervals
(scipy.stats.bootstrap), and whether a lead is more than noise."""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95
RESAMPLES = 2000
MIN_FOR_INTERVAL = 3
SEED = 20231  # resampling is seeded: the same scores give the same interval in every view and every run


@dataclass(frozen=True)
class Estimate:
    """A mean over n samples (judge samples, review samples or documents) with its spread and 95% interval.

    `sd` is None with one sample (one value says nothing about its own noise); the interval is None with fewer
    than MIN_FOR_INTERVAL samples (a bootstrap over two values is only their range)."""

    n: int
    mean: float
    sd: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def interval(self) -> str | None:
        return None if self.low is None or self.high is None else f"95% CI {self.low:g} to {self.high:g}"

    def describe(self) -> str:
        """ "82.4 (sd 6.1, 95% CI 77 to 88, 5 samples)" — every view prints an estimate this way."""
        if self.sd is None:
            return f"{self.mean:g} ({self.n} sample{'s' if self.n != 1 else ''})"
        if self.interval is None:
            return f"{self.mean:g} (sd {self.sd:g}, {self.n} samples: too few for an interval)"
        return f"{self.mean:g} (sd {self.sd:g}, {self.interval}, {self.n} samples)"

    def short(self) -> str:
        """ "96.8 [94.4, 99.2]" for a table cell: the mean and its 95% interval when there is one."""
        if self.low is None or self.high is None:
            return f"{self.mean:g}" + (f" sd {self.sd:g}" if self.sd is not None else "")
        return f"{self.mean:g} [{self.low:g}, {self.high:g}]"

    def excludes_zero(self) -> bool | None:
        """True when the whole interval is on one side of 0; None when there is no interval."""
        if self.low is None or self.high is None:
            return None
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "ci_low": self.low, "ci_high": self.high}


def _round(x: float) -> float:
    return round(float(x), 2)


def estimate(values: Sequence[float]) -> Estimate | None:
    """Mean, sample standard deviation and the 95% bootstrap (percentile) interval of the mean."""
    return _estimate(tuple(float(v) for v in values))


@functools.lru_cache(maxsize=4096)
def _estimate(data: tuple[float, ...]) -> Estimate | None:
    # Cached: a card, a chart, the CSV and select-best each ask for the same branch's estimate on every redraw,
    # and the seeded resampling gives the same answer each time.
    if not data:
        return None
    mean = statistics.fmean(data)
    if len(data) < 2:
        return Estimate(1, _round(mean))
    if len(data) < MIN_FOR_INTERVAL:
        return Estimate(len(data), _round(mean), _round(statistics.stdev(data)))
    low, high = _interval((list(data),), paired=False)
    return Estimate(len(data), _round(mean), _round(statistics.stdev(data)), low, high)


def difference(a: Sequence[float], b: Sequence[float], paired: bool) -> Estimate | None:
    """The lead of a over b (mean of a − mean of b) with its 95% bootstrap interval.

    `paired`: a[i] and b[i] come from the same judge call or the same document, so the per-pair differences are
    resampled together (the judge's mood on one sample cancels out); else each side is resampled on its own."""
    xa, xb = [float(v) for v in a], [float(v) for v in b]
    if not xa or not xb or (paired and len(xa) != len(xb)):
        return None
    mean = statistics.fmean(xa) - statistics.fmean(xb)
    if paired:
        diffs = [x - y for x, y in zip(xa, xb, strict=True)]
        found = estimate(diffs)
        return found if found is None else Estimate(found.n, _round(mean), found.sd, found.low, found.high)
    if min(len(xa), len(xb)) < MIN_FOR_INTERVAL:
        return Estimate(min(len(xa), len(xb)), _round(mean))
    low, high = _interval((xa, xb), paired=False)
    sd = math.sqrt(statistics.variance(xa) / len(xa) + statistics.variance(xb) / len(xb))
    return Estimate(min(len(xa), len(xb)), _round(mean), _round(sd), low, high)


def _interval(samples: tuple[list[float], ...], paired: bool) -> tuple[float, float]:
    if all(len(set(s)) == 1 for s in samples):  # no variation at all: the interval is the value itself
        value = statistics.fmean(samples[0]) - (statistics.fmean(samples[1]) if len(samples) > 1 else 0.0)
        return _round(value), _round(value)
    import numpy as np
    from scipy.stats import bootstrap

    def statistic(*groups: np.ndarray, axis: int = -1) -> np.ndarray:
        result = np.mean(groups[0], axis=axis)
        return result - np.mean(groups[1], axis=axis) if len(groups) > 1 else result

    # Percentile intervals: BCa needs a jackknife that degenerates on the few, often tied, samples a run has.
    res = bootstrap(samples, statistic, paired=paired, vectorized=True, n_resamples=RESAMPLES,
                    confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(SEED))
    return _round(res.confidence_interval.low), _round(res.confidence_interval.high)


@dataclass(frozen=True)
class Comparison:
    """Branch `leader` against `other` over the documents both scored (paired by document)."""

    leader: str
    other: str
    lead: Estimate

    def describe(self) -> str:
        verdict = {True: "a clear lead", False: "no clear difference", None: "too few documents to tell"}
        return (f"{self.leader} vs {self.other}: lead {self.lead.mean:g}"
                + (f" ({self.lead.interval})" if self.lead.interval else "")
                + f" over {self.lead.n} documents — {verdict[self.lead.excludes_zero()]}")

    def to_dict(self) -> dict[str, object]:
        return {"leader": self.leader, "other": self.other, "clear": self.lead.excludes_zero(),
                **self.lead.to_dict()}


def compare_columns(columns: dict[str, list[float | None]]) -> tuple[dict[str, Estimate], list[Comparison]]:
    """Per branch, its mean score over the documents with a 95% bootstrap interval; then the branch with the
    highest mean against every other, paired over the documents both scored."""
    estimates = {name: e for name, values in columns.items()
                 if (e := estimate([v for v in values if v is not None])) is not None}
    if len(estimates) < 2:
        return estimates, []
    leader = max(estimates, key=lambda name: estimates[name].mean)
    comparisons = []
    for other in estimates:
        if other == leader:
            continue
        pairs = [(a, b) for a, b in zip(columns[leader], columns[other], strict=True)
                 if a is not None and b is not None]
        lead = difference([a for a, _ in pairs], [b for _, b in pairs], paired=True)
        if lead is not None:
            comparisons.append(Comparison(leader, other, lead))
    return estimates, comparisons
