"""Plotly figures comparing branches, grouped by engine so they read from 2 to 32 branches: engines by their
short display names on the axis (components.names; the full id on hover), perspectives as colours, horizontal bars
whose labels are never cut. Pure functions of results: no Streamlit here, so tests can read them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from parallax.estimate import usd
from parallax.results import Aggregate, BranchResult

from .names import display_names

REVIEW_SCALE = "score (0–10)"
JUDGE_SCALE = "judge score (GEMBA-MQM, 0–100)"
AGREEMENT_SCALE = "agreement (chrF 0–100, with the other translations)"
PALETTE = ("#4f46e5", "#0891b2", "#d97706", "#db2777", "#65a30d", "#7c3aed", "#0d9488", "#b45309")

STATUS_COLOURS = {"ok": "#16a34a", "error": "#dc2626", "timeout": "#ea580c", "truncated": "#d97706",
                  "cancelled": "#6b7280"}


def names_of(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each engine's short display name, distinct within the run (given, or made here without labels)."""
    found = display_names(r.engine for r in results)
    return {e: (names or {}).get(e, found[e]) for e in found}


def engine_name(engine_id: str, names: Mapping[str, str] | None = None) -> str:
    """An engine's short display name (sim:quick?latency=… → quick)."""
    return (names or {}).get(engine_id) or display_names([engine_id])[engine_id]


def label(r: BranchResult, names: Mapping[str, str] | None = None) -> str:
    """A branch on a chart's axis: its engine first (charts group by engine), then its perspective."""
    return f"{engine_name(r.engine, names)} · {r.perspective}"


def by_engine(results: Sequence[BranchResult]) -> list[BranchResult]:
    """The branches grouped by engine (engines in their declared order), perspectives in theirs within a group."""
    engines = list(dict.fromkeys(r.engine for r in results))
    return sorted(results, key=lambda r: (engines.index(r.engine), r.order))


def unknown_cost(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> list[str]:
    """The engines with a branch that ran but has no cost (no price known): never drawn as $0."""
    return list(dict.fromkeys(engine_name(r.engine, names) for r in results
                              if r.cost_usd is None and r.latency_ms is not None and not r.cached))


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    # A vertical toolbar on the right stays clear of the title (a horizontal one covered it in a half-page column);
    # legends go at the bottom of the figure, where the plot makes room for as many rows as they wrap to (above the
    # plot, a legend that wrapped on a phone grew up over the title; below it on the plot's scale, into the axis title).
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 40, "t": 60, "b": 10}, legend_title_text="",
                      modebar={"orientation": "v"},
                      legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "xanchor": "left",
                              "x": 0})
    return fig


def _bars_height(rows: int) -> int:
    """A horizontal bar chart tall enough for every bar to carry its label (about 20 px a bar)."""
    return max(260, 130 + 20 * rows)


RADAR_MAX_ENGINES = 3  # more overlapping filled traces are unreadable: the heatmap says it better


def failed_engines(results: Sequence[BranchResult]) -> list[str]:
    """Engines none of whose branches came back with a score: charts say so rather than draw nothing."""
    engines = dict.fromkeys(r.engine for r in results)
    return [e for e in engines if not any(r.scored for r in results if r.engine == e)]


def heatmap(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure:
    """Scores by perspective (row) × engine (column), the value in each cell; a branch without a score shows its
    status, and an engine whose branches all failed says so in its column label."""
    names = names_of(results, names)
    perspectives = list(dict.fromkeys(r.perspective for r in results))
    engines = list(dict.fromkeys(r.engine for r in results))
    cell = {(r.perspective, r.engine): r for r in results}
    failed = set(failed_engines(results))
    z = [[cell[(p, e)].score if (p, e) in cell and cell[(p, e)].scored else None for e in engines]
         for p in perspectives]
    text = [[(f"{cell[(p, e)].score:g}" if cell[(p, e)].scored else cell[(p, e)].status) if (p, e) in cell else ""
             for e in engines] for p in perspectives]
    columns = [names[e] + (" (all failed)" if e in failed else "") for e in engines]
    fig = go.Figure(go.Heatmap(z=z, x=columns, y=perspectives, text=text, texttemplate="%{text}", zmin=0, zmax=10,
                               colorscale="RdYlGn", colorbar={"title": REVIEW_SCALE}, hoverongaps=False,
                               customdata=[engines] * len(perspectives),
                               hovertemplate="%{y} · %{customdata}: %{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    crowded = max(len(c) for c in columns) * 7 > 900 / len(columns)  # ~7 px a character, ~900 px of plot
    fig.update_xaxes(tickangle=-30 if crowded else 0, automargin=True)
    return _layout(fig, "Scores by perspective × engine (0–10)", height=max(260, 150 + 50 * len(perspectives)))


def radar(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure:
    """Perspective scores on a polar chart, one trace per engine that has scores (for ≤ RADAR_MAX_ENGINES)."""
    names = names_of(results, names)
    perspectives = list(dict.fromkeys(r.perspective for r in results))
    failed = set(failed_engines(results))
    fig = go.Figure()
    for engine in (e for e in dict.fromkeys(r.engine for r in results) if e not in failed):
        by_p = {r.perspective: r.score for r in results if r.engine == engine}
        values = [by_p.get(p) for p in perspectives]
        fig.add_trace(go.Scatterpolar(r=values + values[:1], theta=perspectives + perspectives[:1], fill="toself",
                                      name=names[engine], connectgaps=False))
    fig.update_layout(polar={"radialaxis": {"range": [0, 10]}, "bgcolor": "rgba(0,0,0,0)"})  # either theme
    title = "Scores by perspective (0–10)" + (
        f" ({', '.join(names[e] for e in failed)}: all failed)" if failed else "")
    return _layout(fig, title)


def scores(results: Sequence[BranchResult], aggregate: Aggregate | None,
           names: Mapping[str, str] | None = None) -> go.Figure:
    """Branch scores grouped by engine: one row of bars per engine (its short name on the axis), a colour per
    perspective; a failed branch is a label with its status (no bar), the aggregate a dashed line."""
    names = names_of(results, names)
    engines = [names[e] for e in dict.fromkeys(r.engine for r in results)]
    perspectives = list(dict.fromkeys(r.perspective for r in results))
    fig = go.Figure()
    for i, perspective in enumerate(perspectives):
        rows = [r for r in results if r.perspective == perspective]
        fig.add_trace(go.Bar(
            y=[names[r.engine] for r in rows], x=[r.score if r.scored else 0 for r in rows], orientation="h",
            name=perspective, marker_color=PALETTE[i % len(PALETTE)],
            text=[f"{r.score:g}" if r.scored else r.status for r in rows], textposition="outside", cliponaxis=False,
            customdata=[r.engine for r in rows],
            hovertemplate=perspective + " · %{customdata}: %{text}<extra></extra>"))
    if aggregate is not None and aggregate.score is not None:
        # The aggregate is a legend entry, not a label on the line: it never sits on a bar's own label.
        fig.add_trace(go.Scatter(x=[aggregate.score] * 2, y=[engines[0], engines[-1]], mode="lines",
                                 line={"dash": "dash", "color": "#111827", "width": 1.5},
                                 name=f"aggregate ({aggregate.method}) {aggregate.score:.2f}"))
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_xaxes(range=[0, 11], title=REVIEW_SCALE, dtick=1)
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=engines, automargin=True)
    return _layout(fig, "Scores by engine, a colour per perspective",
                   height=max(260, 130 + 16 * len(results) + 8 * len(engines)))


def timeline(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure:
    """A Gantt of each branch (grouped by engine): queued → waiting for the first token → streaming → done. A
    branch that failed, was cancelled or came from the cache is drawn as such (its status, over its whole span)."""
    names = names_of(results, names)
    results = by_engine(results)
    order = [label(r, names) for r in results]
    fig = go.Figure()
    phases = (
        ("queued", "#d1d5db", lambda r: 0.0, lambda r: r.started_s),
        ("waiting for first token", "#93c5fd", lambda r: r.started_s, lambda r: r.first_token_s or r.ended_s),
        ("streaming", "#4f46e5", lambda r: r.first_token_s, lambda r: r.ended_s),
    )
    plain = [r for r in results if not r.steps and r.status == "ok" and not r.cached]
    for name, colour, start, end in phases:
        rows = [(label(r, names), start(r), end(r)) for r in plain]
        rows = [(b, s, e) for b, s, e in rows if s is not None and e is not None and e > s]
        fig.add_trace(go.Bar(y=[b for b, _, _ in rows], x=[e - s for _, s, e in rows], base=[s for _, s, _ in rows],
                             orientation="h", name=name, marker_color=colour,
                             hovertemplate="%{y}: %{base:.2f}s → %{x:.2f}s<extra>" + name + "</extra>"))
    for name, colour, keep in (("from the cache (no call)", "#a7f3d0", lambda r: r.status == "ok" and r.cached),
                               *((status, STATUS_COLOURS[status], lambda r, s=status: r.status == s)
                                 for status in ("error", "timeout", "truncated", "cancelled"))):
        rows = [(label(r, names), r.started_s or 0.0, r.ended_s) for r in results if not r.steps and keep(r)]
        rows = [(b, s, e if e is not None and e > s else s + 0.02) for b, s, e in rows]  # a sliver when instant
        if rows:
            fig.add_trace(go.Bar(y=[b for b, _, _ in rows], x=[e - s for _, s, e in rows],
                                 base=[s for _, s, _ in rows], orientation="h", name=name, marker_color=colour,
                                 hovertemplate="%{y}: " + name + "<extra></extra>"))
    # Two-step perspectives: the draft and the self-check as two segments of the same row.
    for step, colour in (("draft", "#818cf8"), ("check", "#312e81")):
        rows = [(label(r, names), s["started_s"], s["ended_s"]) for r in results for s in r.steps
                if s["step"] == step]
        rows = [(b, s, e) for b, s, e in rows if s is not None and e is not None]
        if rows:
            fig.add_trace(go.Bar(y=[b for b, _, _ in rows], x=[e - s for _, s, e in rows],
                                 base=[s for _, s, _ in rows], orientation="h", name=f"{step} step",
                                 marker_color=colour))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="seconds since the run started")
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=order, automargin=True)
    return _layout(fig, "Timeline: the branches overlap", height=_bars_height(len(results)))


def speedup(results: Sequence[BranchResult], wall_ms: float | None) -> float | None:
    """How many times faster the parallel run was than the same branches one after another — only when that
    means something: at least two branches really ran (none answered from the cache) and they gained time."""
    ran = [r for r in results if r.latency_ms and not r.cached]
    if len(ran) < 2 or len(ran) < len(results) or not wall_ms:
        return None
    # The branches' own span (first start to last end) where known: a translation's judge runs after them.
    starts = [r.started_s for r in ran if r.started_s is not None]
    ends = [r.ended_s for r in ran if r.ended_s is not None]
    span_ms = (max(ends) - min(starts)) * 1000 if len(starts) == len(ends) == len(ran) else wall_ms
    value = sum(r.latency_ms or 0 for r in ran) / (span_ms or wall_ms)
    return value if value >= 1 else None


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def latency(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure:
    """Each engine's mean latency and time to first token over its branches that ran (cached ones made no call)."""
    names = names_of(results, names)
    engines = list(dict.fromkeys(r.engine for r in results))
    ran = {e: [r for r in results if r.engine == e and r.latency_ms is not None and not r.cached] for e in engines}
    shown = [e for e in engines if ran[e]]
    fig = go.Figure()
    # The time to the first token drawn inside the latency bar (one row per engine, not two).
    for name, colour, value, width, text in (("latency", "#4f46e5", lambda r: r.latency_ms, 0.7, "%{x:.2f} s"),
                                             ("time to first token", "#93c5fd", lambda r: r.ttft_ms, 0.35, None)):
        means = [_mean([value(r) for r in ran[e]]) for e in shown]
        fig.add_trace(go.Bar(y=[names[e] for e in shown], x=[None if m is None else m / 1000 for m in means],
                             orientation="h", name=name, marker_color=colour, customdata=shown, width=width,
                             texttemplate=text, textposition="outside", cliponaxis=False,
                             hovertemplate="%{customdata}: %{x:.2f} s<extra>" + name + "</extra>"))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="seconds (mean over the engine's branches)", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return _layout(fig, "Latency per engine", height=max(260, 130 + 26 * len(shown)))


def cost(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure | None:
    """Each engine's total cost, for the engines whose cost is known and not zero; None when there is none to
    draw. An engine with an unknown cost is left out (unknown_cost names it), never drawn as $0."""
    names = names_of(results, names)
    unknown = set(unknown_cost(results, names))
    totals: dict[str, float] = {}
    for r in results:
        if names[r.engine] not in unknown and r.cost_usd:
            totals[r.engine] = totals.get(r.engine, 0.0) + r.cost_usd
    if not totals:
        return None
    engines = list(totals)
    fig = go.Figure(go.Bar(y=[names[e] for e in engines], x=[totals[e] for e in engines], orientation="h",
                           marker_color="#16a34a", text=[usd(totals[e]) for e in engines], textposition="outside",
                           cliponaxis=False, customdata=engines, hovertemplate="%{customdata}: %{text}<extra></extra>"))
    fig.update_xaxes(title="USD (all of the engine's branches)", rangemode="tozero", tickformat="$.2~r")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return _layout(fig, "Cost per engine", height=_bars_height(len(engines)))


def unjudged(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> list[str]:
    """The translations that came back without a judge score: they get no bar on a judge-score axis."""
    names = names_of(results, names)
    return [names[r.engine] for r in results if r.status == "ok" and r.judge_score is None]


def judge_scores(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure:
    """The judge's mean score per translation (judged ones only: agreement is not a judge score), with its 95%
    bootstrap interval over the samples as the error bar (none with fewer than 3 samples)."""
    names = names_of(results, names)
    judged = [r for r in results if r.judge_score is not None]
    found = [r.estimate for r in judged]
    high = [0 if e is None or e.high is None else e.high - e.mean for e in found]
    low = [0 if e is None or e.low is None else e.mean - e.low for e in found]
    fig = go.Figure(go.Bar(
        y=[names[r.engine] for r in judged], x=[r.judge_score for r in judged], orientation="h",
        error_x={"type": "data", "symmetric": False, "array": high, "arrayminus": low, "visible": any(high + low)},
        marker_color=["#9ca3af" if r.non_translation else "#d97706" if r.outlier else "#4f46e5" for r in judged],
        text=[f"{r.judge_score:g}" + (" (not a translation)" if r.non_translation else "") for r in judged],
        textposition="outside", cliponaxis=False, customdata=[r.engine for r in judged],
        hovertemplate="%{customdata}: %{x:g}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, 109], title=JUDGE_SCALE)
    fig.update_yaxes(autorange="reversed", automargin=True)
    n = max((e.n for e in found if e is not None), default=1)
    return _layout(fig, f"Judge scores (mean of {n} samples; bars: 95% interval)" if n >= 3
                   else f"Judge scores ({n} sample{'s' if n > 1 else ''}: too few for an interval)",
                   height=_bars_height(len(judged)))


def agreement_heatmap(matrix: dict[str, dict[str, float]], names: Mapping[str, str] | None = None) -> go.Figure:
    """chrF of each translation (row, the hypothesis) against each other one (column, the reference)."""
    ids = list(matrix)
    z = [[None if a == b else matrix[a].get(b) for b in ids] for a in ids]
    shown = display_names(ids)
    labels = [(names or {}).get(i) or shown[i] for i in ids]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=100,
                               text=[[("" if v is None else f"{v:.0f}") for v in row] for row in z],
                               texttemplate="%{text}", colorbar={"title": "chrF (0–100)"}))
    fig.update_yaxes(autorange="reversed", title="hypothesis (row)", automargin=True)
    fig.update_xaxes(title="reference (column)", tickangle=-30 if len(ids) > 6 else 0)
    return _layout(fig, "Agreement between engines (chrF of row against column, 0–100)",
                   height=max(360, 160 + 30 * len(ids)))


def quality_cost_latency(results: Sequence[BranchResult], names: Mapping[str, str] | None = None) -> go.Figure:
    """Quality against latency, marker size by cost: the cheap, fast and good engines sit top left. Quality is the
    judge's score when a judge ran (translations it did not judge are left out, not put on its axis with another
    measure), else agreement; a translation of unknown cost is an open marker (never a $0 one)."""
    names = names_of(results, names)
    done = [r for r in results if r.status == "ok"]
    judged = any(r.judge_score is not None for r in done)
    shown = [r for r in done if r.judge_score is not None] if judged else [r for r in done if r.agreement is not None]
    quality = [r.judge_score if judged else r.agreement for r in shown]
    top = max((r.cost_usd or 0 for r in shown), default=0) or 1
    fig = go.Figure(go.Scatter(
        x=[(r.latency_ms or 0) / 1000 for r in shown], y=quality, mode="markers+text",
        text=[names[r.engine] for r in shown], textposition="top center",
        marker={"size": [14 if r.cost_usd is None else 14 + 30 * r.cost_usd / top for r in shown],
                "color": "#4f46e5", "opacity": 0.7, "symbol": ["circle-open" if r.cost_usd is None else "circle"
                                                                for r in shown], "line": {"width": 2}},
        customdata=[usd(r.cost_usd) for r in shown],
        hovertemplate="%{text}: %{y:.1f} in %{x:.2f}s, cost %{customdata}<extra></extra>",
    ))
    fig.update_xaxes(title="latency (s)", rangemode="tozero")
    fig.update_yaxes(title=JUDGE_SCALE if judged else AGREEMENT_SCALE, range=[0, 105])
    return _layout(fig, "Quality against latency (marker size: cost)")
