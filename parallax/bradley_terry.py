"""Bradley–Terry ratings of items from pairwise outcomes, with percentile bootstrap intervals over clusters of
outcomes (choix's iterative Luce spectral ranking on the win matrix; a tie is half a win for each).

Scale: Elo-like, 400·log10 of the strength, anchored so the mean item is 1000 (a 100-point gap: the higher one is
expected to win 64% of the time). A small regularisation (ALPHA: the Markov chain's rates start at ALPHA) keeps an
item that never lost finite; its rating then rests on the regularisation, not the data. So where the data set no
bound, none is claimed: an interval is open above when the item never lost in more than 2.5% of the resamples
(every resample, when it never lost at all), open below when it never won in more than 2.5% of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

ALPHA = 0.05
ANCHOR = 1000.0
SCALE = 400 / math.log(10)  # natural-log strengths to Elo points
TOL = 1e-6  # the fit's convergence (L1 over the strengths): far below the 0.1 Elo points shown
TAIL = 0.025  # each side of a 95% interval


@dataclass(frozen=True)
class Ratings:
    rating: list[float]  # per item, Elo-like
    low: list[float]  # 95% interval; -inf: open below
    high: list[float]  # +inf: open above
    resamples: int  # the resamples that were fitted


def fit_ratings(n: int, first: list[int], second: list[int], outcome: list[float], clusters: list[int],
                resamples: int, seed: int) -> Ratings:
    """Ratings of items 0..n-1 from outcomes (1: first won, 0: second won, 0.5: tie), and their intervals from
    `resamples` bootstrap draws of whole clusters with replacement (seeded: the same data give the same intervals)."""
    import numpy as np

    a, b, won = np.array(first), np.array(second), np.array(outcome, dtype=float)
    cluster = np.array(clusters)
    n_clusters = int(cluster.max()) + 1
    full = _fit(n, a, b, won, np.ones(len(won)))
    if full is None:
        raise ValueError("the ratings could not be fitted")
    rng = np.random.default_rng(seed)
    samples, unbeaten, winless = [], np.zeros(n), np.zeros(n)
    for _ in range(resamples):
        weight = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[cluster].astype(float)
        fitted = _fit(n, a, b, won, weight, full)
        if fitted is None:
            continue
        samples.append(fitted)
        present = ~np.isnan(fitted)
        wins = np.bincount(a, weight * won, n) + np.bincount(b, weight * (1 - won), n)
        losses = np.bincount(a, weight * (1 - won), n) + np.bincount(b, weight * won, n)
        unbeaten += present & (losses == 0)
        winless += present & (wins == 0)
    low, high = full.copy(), full.copy()
    if samples:
        drawn = np.array(samples)
        for i in range(n):  # an item absent from every resample keeps its point estimate
            values = drawn[:, i][~np.isnan(drawn[:, i])]
            if len(values):
                low[i], high[i] = np.percentile(values, [100 * TAIL, 100 * (1 - TAIL)])
    fitted_n = max(len(samples), 1)
    high[unbeaten / fitted_n > TAIL] = math.inf
    low[winless / fitted_n > TAIL] = -math.inf
    total_wins = np.bincount(a, won, n) + np.bincount(b, 1 - won, n)
    total_losses = np.bincount(a, 1 - won, n) + np.bincount(b, won, n)
    high[total_losses == 0] = math.inf
    low[total_wins == 0] = -math.inf
    return Ratings([float(x) for x in full], [float(x) for x in low], [float(x) for x in high], len(samples))


def _fit(n: int, first: Any, second: Any, outcome: Any, weight: Any, start: Any = None) -> Any:
    """Elo-scale ratings (the items in this sample anchored at a mean of 1000; NaN for an item not in it), or None
    when the fit does not converge. `start`: ratings to start from (a resample starts from the full fit)."""
    import choix
    import numpy as np

    wins = np.zeros((n, n))
    np.add.at(wins, (first, second), weight * outcome)
    np.add.at(wins, (second, first), weight * (1 - outcome))
    present = np.zeros(n, dtype=bool)
    present[first[weight > 0]] = True
    present[second[weight > 0]] = True
    try:
        initial = None if start is None else (start - ANCHOR) / SCALE
        with np.errstate(divide="ignore", invalid="ignore"):  # unregularised, an item that never won has log(0)
            strength = choix.ilsr_pairwise_dense(wins, alpha=ALPHA, initial_params=initial, tol=TOL)
    except (RuntimeError, ValueError):
        return None
    if not np.all(np.isfinite(strength)):
        return None
    rating = ANCHOR + SCALE * (strength - strength[present].mean())
    rating[~present] = np.nan
    return rating
