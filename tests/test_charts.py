"""Charts that read at a glance from 2 to 32 branches: grouped by engine with short names, scales named, no
agreement on a judge-score axis, no unknown cost drawn as $0; and the per-engine summary table."""

from __future__ import annotations

from components import charts, summary
from parallax.reducers import reduce
from parallax.results import BranchResult


def branch(p: str, e: str, score: float | None, status: str = "ok", cached: bool = False,
           start: float | None = 0.1, first: float | None = 0.3, end: float | None = 1.0, order: int = 0,
           **extra: object) -> BranchResult:
    return BranchResult(f"{p}@{e}", order, e, p, status=status, score=score, cached=cached, started_s=start,
                        first_token_s=first, ended_s=end, latency_ms=None if end is None else 900, **extra)


RESULTS = [branch("technical", "sim:a?latency=1", 7), branch("technical", "openai:b", 5),
           branch("technical", "openai:down", None, "error", first=None),
           branch("legal", "sim:a?latency=1", 9), branch("legal", "openai:b", None, "timeout", first=None),
           branch("legal", "openai:down", None, "error", first=None)]


def test_heatmap_shows_every_value_and_says_which_engine_all_failed():
    fig = charts.heatmap(RESULTS)
    trace = fig.data[0]
    assert list(trace.y) == ["technical", "legal"]
    assert list(trace.x) == ["a", "b", "down (all failed)"]  # short names; the full ids are in the hover
    assert [list(row) for row in trace.text] == [["7", "5", "error"], ["9", "timeout", "error"]]
    assert trace.z[1][1] is None  # no score is no colour, never a 0
    assert fig.layout.title.text.endswith("(0–10)") and trace.colorbar.title.text == "score (0–10)"


def test_the_radar_draws_only_engines_with_scores_and_names_the_others():
    fig = charts.radar(RESULTS)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.layout.title.text == "Scores by perspective (0–10) (down: all failed)"


def test_the_timeline_shows_failed_cancelled_and_cached_branches_as_such():
    results = [branch("t", "e1", 7), branch("t", "e2", None, "error", first=None, end=0.4),
               branch("t", "e3", None, "cancelled", first=None, end=None),
               branch("t", "e4", 6, cached=True, first=0.1, end=0.1)]
    fig = charts.timeline(results)
    names = {t.name: list(t.y) for t in fig.data if len(t.y)}
    assert names["streaming"] == ["e1 · t"] and "e2 · t" not in names["waiting for first token"]
    assert names["error"] == ["e2 · t"] and names["cancelled"] == ["e3 · t"]
    assert names["from the cache (no call)"] == ["e4 · t"]


def test_the_aggregate_is_a_legend_entry_not_a_label_on_a_bar():
    results = RESULTS[:2]
    fig = charts.scores(results, reduce(results, "mean"))
    assert not fig.layout.annotations
    assert fig.data[-1].name == "aggregate (mean) 6.00" and list(fig.data[-1].x) == [6.0, 6.0]


def matrix(perspectives: int, engines: int) -> list[BranchResult]:
    names = ["technical", "business", "legal"][:perspectives]
    return [branch(p, f"sim:engine-{e}?latency=0.5&tokens=150&rate=50", 5 + (e % 5), order=i * engines + e)
            for i, p in enumerate(names) for e in range(engines)]


def test_scores_at_32_branches_group_by_engine_with_whole_short_names_on_a_named_scale():
    results = matrix(2, 16)
    fig = charts.scores(results, reduce(results, "mean"))
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == ["technical", "business"]  # a colour per perspective
    assert all(t.orientation == "h" for t in bars)  # labels on the side: never rotated, never overlapping
    assert list(bars[0].y) == [f"engine-{e}" for e in range(16)]  # each engine's whole short name
    assert fig.layout.xaxis.title.text == "score (0–10)"
    assert fig.layout.height >= 16 * 32  # about 16 px a bar: every bar carries its label
    # At the bottom of the figure (not of the plot): off the axes, and never over the title when it wraps.
    assert fig.layout.legend.orientation == "h" and (fig.layout.legend.yref, fig.layout.legend.y) == ("container", 0)


def test_latency_per_engine_and_a_cost_chart_that_leaves_out_unknown_costs():
    results = [branch("t", "openai:m", 7, cost_usd=0.002, ttft_ms=300, output_tokens=60),
               branch("l", "openai:m", 6, cost_usd=0.001, ttft_ms=300, output_tokens=60),
               branch("t", "local", 5, cost_usd=None, ttft_ms=100, output_tokens=60),
               branch("t", "sim:free", 4, cost_usd=0.0)]
    fig = charts.latency(results)
    assert list(fig.data[0].y) == ["m", "local", "free"] and fig.data[0].x[0] == 0.9
    spend = charts.cost(results)
    assert list(spend.data[0].y) == ["m"]  # "local" has no known price: not a $0 bar
    assert list(spend.data[0].text) == ["$0.003"]
    assert charts.unknown_cost(results) == ["local"]
    assert charts.cost([branch("t", "sim:free", 4, cost_usd=0.0)]) is None  # nothing to draw when all is free


def test_an_unjudged_translation_gets_no_bar_on_the_judge_axis():
    results = [branch("translate", "openai:a", None, judge_score=80.0, agreement=60.0),
               branch("translate", "deepl", None, judge_score=None, agreement=70.0),
               branch("translate", "sim:c?x=1", None, judge_score=60.0, agreement=50.0)]
    fig = charts.judge_scores(results)
    assert list(fig.data[0].y) == ["a", "c"] and fig.layout.xaxis.title.text == "judge score (GEMBA-MQM, 0–100)"
    assert charts.unjudged(results) == ["DeepL"]
    quality = charts.quality_cost_latency(results)
    assert list(quality.data[0].y) == [80.0, 60.0]  # agreement (70) never on the judge-score axis
    assert quality.layout.yaxis.title.text == "judge score (GEMBA-MQM, 0–100)"
    unjudged = charts.quality_cost_latency([branch("translate", "deepl", None, agreement=70.0)])
    assert unjudged.layout.yaxis.title.text.startswith("agreement (chrF 0–100")
    assert list(unjudged.data[0].marker.symbol) == ["circle-open"]  # unknown cost: an open marker, not $0


def test_the_engine_summary_has_one_row_per_engine_with_named_scales_and_unknown_costs():
    results = [branch("technical", "openai:m", 8, cost_usd=0.002, ttft_ms=300, output_tokens=120),
               branch("legal", "openai:m", 6, cost_usd=0.001, ttft_ms=300, output_tokens=60),
               branch("technical", "local", 5, cost_usd=None, ttft_ms=100, output_tokens=80),
               branch("legal", "local", None, "error", first=None, cost_usd=None)]
    rows = summary.engine_rows(results)
    assert list(rows[0]) == ["engine", "mean score (0–10)", "succeeded", "failures", "mean latency (s)",
                             "tokens/s", "cost", "engine id"]
    assert rows[0] == {"engine": "m", "mean score (0–10)": 7.0, "succeeded": "2 of 2", "failures": 0,
                       "mean latency (s)": 0.9, "tokens/s": 180 / 1.2, "cost": 0.003, "engine id": "openai:m"}
    assert rows[1]["succeeded"] == "1 of 2" and rows[1]["failures"] == 1 and rows[1]["cost"] is None
    shown = summary.styled(rows).to_html()
    assert "unknown" in shown and "$0.003" in shown and "None" not in shown and "nan" not in shown
    assert summary.score_column("translate") == "mean judge score (0–100)"
