from __future__ import annotations

import pytest

from parallax.reducers import REDUCERS, reduce
from parallax.results import BranchResult


def result(order: int, score: float | None, weight: float = 1.0, status: str = "ok") -> BranchResult:
    return BranchResult(f"b{order}", order, "sim:x", f"p{order}", weight, status=status, score=score)  # type: ignore[arg-type]


SCORES = [result(2, 9.0, weight=2), result(0, 3.0), result(1, 6.0), result(3, None, status="error")]


@pytest.mark.parametrize(
    "method,expected", [("mean", 6.0), ("weighted", 6.75), ("median", 6.0), ("min", 3.0), ("max", 9.0)]
)
def test_each_reducer_skips_failures_and_counts_them(method, expected):
    agg = reduce(SCORES, method)
    assert (agg.method, agg.score, agg.n_ok, agg.n_total, agg.spread) == (method, expected, 3, 4, 6.0)


def test_formula_is_in_declared_order_whatever_the_arrival_order():
    assert reduce(SCORES, "mean").formula == "mean(3, 6, 9) = 6.00"
    assert reduce(SCORES, "weighted").formula == "(3×1 + 6×1 + 9×2) / 4 = 6.75"


def test_no_success_gives_a_null_score_not_zero():
    agg = reduce([result(0, None, status="error"), result(1, None, status="timeout")], "mean")
    assert (agg.score, agg.n_ok, agg.n_total, agg.spread) == (None, 0, 2, None)


def test_zero_weights_fall_back_to_the_mean():
    agg = reduce([result(0, 4.0, weight=0), result(1, 8.0, weight=0)], "weighted")
    assert agg.score == 6.0 and "all weights were 0" in agg.formula


def test_registry_and_unknown_names():
    assert list(REDUCERS) == ["mean", "weighted", "median", "min", "max", "best"]
    with pytest.raises(ValueError, match="unknown reducer 'avg'; choose one of: mean"):
        reduce(SCORES, "avg")
