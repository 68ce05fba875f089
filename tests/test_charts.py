"""Charts that read at a glance: a heatmap with values, statuses on the timeline, labels that do not collide."""

from __future__ import annotations

from components import charts
from parallax.reducers import reduce
from parallax.results import BranchResult


def branch(p: str, e: str, score: float | None, status: str = "ok", cached: bool = False,
           start: float | None = 0.1, first: float | None = 0.3, end: float | None = 1.0) -> BranchResult:
    return BranchResult(f"{p}@{e}", 0, e, p, status=status, score=score, cached=cached, started_s=start,
                        first_token_s=first, ended_s=end, latency_ms=None if end is None else 900)


RESULTS = [branch("technical", "sim:a?latency=1", 7), branch("technical", "openai:b", 5),
           branch("technical", "openai:down", None, "error", first=None),
           branch("legal", "sim:a?latency=1", 9), branch("legal", "openai:b", None, "timeout", first=None),
           branch("legal", "openai:down", None, "error", first=None)]


def test_heatmap_shows_every_value_and_says_which_engine_all_failed():
    fig = charts.heatmap(RESULTS)
    trace = fig.data[0]
    assert list(trace.y) == ["technical", "legal"]
    assert list(trace.x) == ["sim:a", "openai:b", "openai:down (all failed)"]
    assert [list(row) for row in trace.text] == [["7", "5", "error"], ["9", "timeout", "error"]]
    assert trace.z[1][1] is None  # no score is no colour, never a 0


def test_the_radar_draws_only_engines_with_scores_and_names_the_others():
    fig = charts.radar(RESULTS)
    assert [t.name for t in fig.data] == ["sim:a", "openai:b"]
    assert fig.layout.title.text == "Scores by perspective (openai:down: all failed)"


def test_the_timeline_shows_failed_cancelled_and_cached_branches_as_such():
    results = [branch("t", "e1", 7), branch("t", "e2", None, "error", first=None, end=0.4),
               branch("t", "e3", None, "cancelled", first=None, end=None),
               branch("t", "e4", 6, cached=True, first=0.1, end=0.1)]
    fig = charts.timeline(results)
    names = {t.name: list(t.y) for t in fig.data if len(t.y)}
    assert names["streaming"] == ["t · e1"] and "t · e2" not in names["waiting for first token"]
    assert names["error"] == ["t · e2"] and names["cancelled"] == ["t · e3"]
    assert names["from the cache (no call)"] == ["t · e4"]


def test_the_aggregate_is_a_legend_entry_not_a_label_on_a_bar():
    results = RESULTS[:2]
    fig = charts.scores(results, reduce(results, "mean"))
    assert not fig.layout.annotations
    assert fig.data[-1].name == "aggregate (mean) 6.00" and list(fig.data[-1].y) == [6.0, 6.0]
