"""Plotly figures comparing branches. Pure functions of results: no Streamlit here, so tests can read them."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from parallax.estimate import usd
from parallax.results import Aggregate, BranchResult

STATUS_COLOURS = {"ok": "#16a34a", "error": "#dc2626", "timeout": "#ea580c", "truncated": "#d97706",
                  "cancelled": "#6b7280"}


def engine_name(engine_id: str) -> str:
    """An engine id without its options, for axis labels and legends (sim:quick?latency=… → sim:quick)."""
    return engine_id.split("?", 1)[0]


def label(r: BranchResult) -> str:
    return f"{r.perspective} · {engine_name(r.engine)}"


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    # A vertical toolbar on the right stays clear of the title (a horizontal one covered it in a half-page column).
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 40, "t": 50, "b": 10}, legend_title_text="",
                      modebar={"orientation": "v"})
    return fig


RADAR_MAX_ENGINES = 3  # more overlapping filled traces are unreadable: the heatmap says it better


def failed_engines(results: Sequence[BranchResult]) -> list[str]:
    """Engines none of whose branches came back with a score: charts say so rather than draw nothing."""
    engines = dict.fromkeys(r.engine for r in results)
    return [e for e in engines if not any(r.scored for r in results if r.engine == e)]


def heatmap(results: Sequence[BranchResult]) -> go.Figure:
    """Scores by perspective (row) × engine (column), the value in each cell; a branch without a score shows its
    status, and an engine whose branches all failed says so in its column label."""
    perspectives = list(dict.fromkeys(r.perspective for r in results))
    engines = list(dict.fromkeys(r.engine for r in results))
    cell = {(r.perspective, r.engine): r for r in results}
    failed = set(failed_engines(results))
    z = [[cell[(p, e)].score if (p, e) in cell and cell[(p, e)].scored else None for e in engines]
         for p in perspectives]
    text = [[(f"{cell[(p, e)].score:g}" if cell[(p, e)].scored else cell[(p, e)].status) if (p, e) in cell else ""
             for e in engines] for p in perspectives]
    columns = [engine_name(e) + (" (all failed)" if e in failed else "") for e in engines]
    fig = go.Figure(go.Heatmap(z=z, x=columns, y=perspectives, text=text, texttemplate="%{text}", zmin=0, zmax=10,
                               colorscale="RdYlGn", colorbar={"title": "score"}, hoverongaps=False,
                               hovertemplate="%{y} · %{x}: %{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Scores by perspective × engine", height=max(260, 90 + 50 * len(perspectives)))


def radar(results: Sequence[BranchResult]) -> go.Figure:
    """Perspective scores on a polar chart, one trace per engine that has scores (for ≤ RADAR_MAX_ENGINES)."""
    perspectives = list(dict.fromkeys(r.perspective for r in results))
    failed = set(failed_engines(results))
    fig = go.Figure()
    for engine in (e for e in dict.fromkeys(r.engine for r in results) if e not in failed):
        by_p = {r.perspective: r.score for r in results if r.engine == engine}
        values = [by_p.get(p) for p in perspectives]
        fig.add_trace(go.Scatterpolar(r=values + values[:1], theta=perspectives + perspectives[:1], fill="toself",
                                      name=engine_name(engine), connectgaps=False))
    fig.update_layout(polar={"radialaxis": {"range": [0, 10]}, "bgcolor": "rgba(0,0,0,0)"})  # either theme
    title = "Scores by perspective" + (f" ({', '.join(engine_name(e) for e in failed)}: all failed)" if failed else "")
    return _layout(fig, title)


def scores(results: Sequence[BranchResult], aggregate: Aggregate | None) -> go.Figure:
    """Branch scores as bars (failed branches shown at 0 with their status), the aggregate as a line."""
    labels = [label(r) for r in results]
    fig = go.Figure(go.Bar(
        x=labels, y=[r.score or 0 for r in results],
        marker_color=[STATUS_COLOURS[r.status] for r in results],
        text=[f"{r.score:g}" if r.score is not None else r.status for r in results], textposition="outside",
        name="branch score",
    ))
    if aggregate is not None and aggregate.score is not None:
        # The aggregate is a legend entry, not a label on the line: it never sits on a bar's own label.
        fig.add_trace(go.Scatter(x=[labels[0], labels[-1]], y=[aggregate.score] * 2, mode="lines",
                                 line={"dash": "dash", "color": "#4f46e5"},
                                 name=f"aggregate ({aggregate.method}) {aggregate.score:.2f}"))
        fig.update_layout(legend={"orientation": "h", "y": -0.25})
    fig.update_yaxes(range=[0, 10.9], title="score")
    return _layout(fig, "Branch scores and the aggregate")


def timeline(results: Sequence[BranchResult]) -> go.Figure:
    """A Gantt of each branch: queued → waiting for the first token → streaming → done. A branch that failed,
    was cancelled or came from the cache is drawn as such (its status, over its whole span)."""
    fig = go.Figure()
    phases = (
        ("queued", "#d1d5db", lambda r: 0.0, lambda r: r.started_s),
        ("waiting for first token", "#93c5fd", lambda r: r.started_s, lambda r: r.first_token_s or r.ended_s),
        ("streaming", "#4f46e5", lambda r: r.first_token_s, lambda r: r.ended_s),
    )
    plain = [r for r in results if not r.steps and r.status == "ok" and not r.cached]
    for name, colour, start, end in phases:
        rows = [(label(r), start(r), end(r)) for r in plain]
        rows = [(b, s, e) for b, s, e in rows if s is not None and e is not None and e > s]
        fig.add_trace(go.Bar(y=[b for b, _, _ in rows], x=[e - s for _, s, e in rows], base=[s for _, s, _ in rows],
                             orientation="h", name=name, marker_color=colour,
                             hovertemplate="%{y}: %{base:.2f}s → %{x:.2f}s<extra>" + name + "</extra>"))
    for name, colour, keep in (("from the cache (no call)", "#a7f3d0", lambda r: r.status == "ok" and r.cached),
                               *((status, STATUS_COLOURS[status], lambda r, s=status: r.status == s)
                                 for status in ("error", "timeout", "truncated", "cancelled"))):
        rows = [(label(r), r.started_s or 0.0, r.ended_s) for r in results if not r.steps and keep(r)]
        rows = [(b, s, e if e is not None and e > s else s + 0.02) for b, s, e in rows]  # a sliver when instant
        if rows:
            fig.add_trace(go.Bar(y=[b for b, _, _ in rows], x=[e - s for _, s, e in rows],
                                 base=[s for _, s, _ in rows], orientation="h", name=name, marker_color=colour,
                                 hovertemplate="%{y}: " + name + "<extra></extra>"))
    # Two-step perspectives: the draft and the self-check as two segments of the same row.
    for step, colour in (("draft", "#818cf8"), ("check", "#312e81")):
        rows = [(label(r), s["started_s"], s["ended_s"]) for r in results for s in r.steps if s["step"] == step]
        rows = [(b, s, e) for b, s, e in rows if s is not None and e is not None]
        if rows:
            fig.add_trace(go.Bar(y=[b for b, _, _ in rows], x=[e - s for _, s, e in rows],
                                 base=[s for _, s, _ in rows], orientation="h", name=f"{step} step",
                                 marker_color=colour))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="seconds since the run started")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Timeline: the branches overlap", height=max(260, 60 + 34 * len(results)))


def speedup(results: Sequence[BranchResult], wall_ms: float | None) -> float | None:
    """How many times faster the parallel run was than the same branches one after another — only when that
    means something: at least two branches really ran (none answered from the cache) and they gained time."""
    ran = [r for r in results if r.latency_ms and not r.cached]
    if len(ran) < 2 or len(ran) < len(results) or not wall_ms:
        return None
    value = sum(r.latency_ms or 0 for r in ran) / wall_ms
    return value if value >= 1 else None


def latency_cost(results: Sequence[BranchResult]) -> go.Figure:
    labels = [label(r) for r in results]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=[(r.latency_ms or 0) / 1000 for r in results], name="latency (s)",
                         marker_color="#4f46e5", offsetgroup=0))
    fig.add_trace(go.Bar(x=labels, y=[(r.ttft_ms or 0) / 1000 for r in results], name="time to first token (s)",
                         marker_color="#93c5fd", offsetgroup=1))
    fig.update_layout(yaxis={"title": "seconds"})
    if any(r.cost_usd for r in results):  # free runs get no empty cost axis
        fig.add_trace(go.Scatter(x=labels, y=[r.cost_usd for r in results], name="cost (USD)", yaxis="y2",
                                 mode="markers", marker={"size": 12, "color": "#16a34a", "symbol": "diamond"},
                                 customdata=[usd(r.cost_usd) for r in results],
                                 hovertemplate="%{x}: %{customdata}<extra></extra>"))
        fig.update_layout(yaxis2={"title": "USD", "overlaying": "y", "side": "right", "rangemode": "tozero",
                                  "tickformat": "$.2~r"})  # $0.0000038, not plotly's SI "3.76μ"
    return _layout(fig, "Latency and cost per branch")


def judge_scores(results: Sequence[BranchResult]) -> go.Figure:
    """The judge's mean score per translation, with its 95% bootstrap interval over the samples as the error bar
    (none with fewer than 3 samples: two values do not make an interval)."""
    judged = [r for r in results if r.judge_score is not None]
    found = [r.estimate for r in judged]
    high = [0 if e is None or e.high is None else e.high - e.mean for e in found]
    low = [0 if e is None or e.low is None else e.mean - e.low for e in found]
    fig = go.Figure(go.Bar(
        x=[engine_name(r.engine) for r in judged], y=[r.judge_score for r in judged],
        error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low, "visible": any(high + low)},
        marker_color=["#9ca3af" if r.non_translation else "#d97706" if r.outlier else "#4f46e5" for r in judged],
        text=[f"{r.judge_score:g}" + (" (not a translation)" if r.non_translation else "") for r in judged],
        textposition="outside",
    ))
    fig.update_yaxes(range=[0, 109], title="judge score (GEMBA-MQM, 0–100)")
    n = max((e.n for e in found if e is not None), default=1)
    return _layout(fig, f"Judge scores (mean of {n} samples; bars: 95% interval)" if n >= 3
                   else f"Judge scores ({n} sample{'s' if n > 1 else ''}: too few for an interval)")


def agreement_heatmap(matrix: dict[str, dict[str, float]]) -> go.Figure:
    """chrF of each translation (row, the hypothesis) against each other one (column, the reference)."""
    names = list(matrix)
    z = [[None if a == b else matrix[a].get(b) for b in names] for a in names]
    labels = [engine_name(n) for n in names]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=100,
                               text=[[("" if v is None else f"{v:.0f}") for v in row] for row in z],
                               texttemplate="%{text}", colorbar={"title": "chrF"}))
    fig.update_yaxes(autorange="reversed", title="hypothesis (row)")
    fig.update_xaxes(title="reference (column)")
    return _layout(fig, "Agreement between engines (chrF of row against column)")


def quality_cost_latency(results: Sequence[BranchResult]) -> go.Figure:
    """Quality against latency, marker size by cost: the cheap, fast and good engines sit top left."""
    done = [r for r in results if r.status == "ok"]
    quality = [r.judge_score if r.judge_score is not None else r.agreement for r in done]
    costs = [r.cost_usd or 0 for r in done]
    top = max(costs, default=0) or 1
    fig = go.Figure(go.Scatter(
        x=[(r.latency_ms or 0) / 1000 for r in done], y=quality, mode="markers+text",
        text=[engine_name(r.engine) for r in done], textposition="top center",
        marker={"size": [14 + 30 * c / top for c in costs], "color": "#4f46e5", "opacity": 0.7},
        customdata=[usd(r.cost_usd) for r in done],
        hovertemplate="%{text}: %{y:.1f} in %{x:.2f}s, cost %{customdata}<extra></extra>",
    ))
    judged = any(r.judge_score is not None for r in done)
    fig.update_xaxes(title="latency (s)", rangemode="tozero")
    fig.update_yaxes(title="judge score" if judged else "agreement (chrF; no judge)")
    return _layout(fig, "Quality against latency (marker size: cost)")
