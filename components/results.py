"""The reducer made visible, the consolidated issues, the charts and the export buttons for a finished run."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import streamlit as st

from parallax.export import to_csv, to_json, to_xlsx
from parallax.reducers import REDUCERS, reduce
from parallax.results import SEVERITIES, Aggregate
from parallax.run.execute import RunOutcome
from parallax.run.failures import plural
from parallax.translate.judge import MQM_FORMULA
from parallax.translate.metrics import word_diff

from . import live
from .consensus import consensus_panel
from .names import display_names
from .phone import Finished
from .safe import md_escape
from .segments import segments_panel
from .settings import engine_labels

if TYPE_CHECKING:  # pandas, plotly and the graph are imported when a result is drawn, not with the page
    import pandas as pd

DISAGREEMENT_SPREAD = 3.0  # points out of 10 (30 out of 100) between the harshest and the kindest branch


def reducer_panel(outcome: RunOutcome, key: str) -> Aggregate:
    """Aggregate score with a reducer selector that recomputes from the stored results — no new calls."""
    from . import charts
    st.session_state.setdefault(key, outcome.reducer)
    method = st.segmented_control("Reducer", list(REDUCERS), key=key, required=True,
                                  help="How branch scores merge. Switching recomputes from the stored results.")
    aggregate = reduce(outcome.ordered(), method or outcome.reducer)
    scale = 100 if outcome.mode == "translate" else 10
    a, b, c, d = st.columns(4)
    a.metric(f"Aggregate score (0–{scale})", "—" if aggregate.score is None else f"{aggregate.score:.2f}",
             help="Empty, not 0, when no branch succeeded (or, for translations, none was judged).")
    b.metric("Succeeded", f"{aggregate.n_ok} of {aggregate.n_total}",
             help="The branches that came back (status ok), whatever their score.")
    if scored := aggregate.scored_count(outcome.mode):
        b.caption(scored.capitalize())
    c.metric(f"Spread (max − min, 0–{scale})", "—" if aggregate.spread is None else f"{aggregate.spread:g}",
             help="How far apart the highest and the lowest score are, in points of the score's scale.")
    speed = charts.speedup(outcome.ordered(), outcome.wall_ms) if aggregate.n_ok else None
    d.metric("Parallel speed-up", "—" if speed is None else f"{speed:.1f}× faster",
             help="The branches' latencies added up ÷ the time from the first branch's start to the last one's "
                  "end: how much faster than one after another (the judge, which runs after them, is not counted).")
    if aggregate.spread is not None and aggregate.spread >= DISAGREEMENT_SPREAD * scale / 10:
        st.warning(f"The branches disagree: scores are {aggregate.spread:g} points apart. "
                   "Read the lowest-scoring perspectives before trusting the aggregate.", icon=":material/warning:")
    # A key keeps it open (or closed) while the user switches reducers.
    with st.expander("How the reducer merged the branches", key=f"{key}_explain", on_change="rerun"):
        st.markdown(f"**Formula** (`{aggregate.method}`, failed branches excluded and counted):")
        st.code(aggregate.formula, language=None)
        st.markdown("**Merged state as the reducer saw it** — branches arrive in no fixed order; each carries "
                    "its declared position, and the reducer sorts by it.")
        st.dataframe(arrival_table(outcome), hide_index=True, width="stretch", placeholder="—")
    return aggregate


def arrival_table(outcome: RunOutcome) -> pd.DataFrame:
    import pandas as pd
    rows = []
    for arrived, branch_id in enumerate(outcome.arrival, start=1):
        r = outcome.results[branch_id]
        rows.append({"arrived": arrived, "declared": r.order + 1, "branch": branch_id, "status": r.status,
                     "score": r.score, "finished at (s)": None if r.ended_s is None else round(r.ended_s, 3)})
    return pd.DataFrame(rows)


def issues_panel(outcome: RunOutcome) -> None:
    found = [(f, r) for r in outcome.ordered() for f in r.issues]
    title = "Errors the judge found" if outcome.mode == "translate" else "Issues from all perspectives"
    st.subheader(f"{title} ({len(found)})")
    if not found:
        st.caption("No branch reported an issue." if any(r.ok for r in outcome.ordered())
                   else "No branch succeeded, so none could report an issue.")
        return
    for severity in SEVERITIES:
        group = [(f, r) for f, r in found if f.severity == severity]
        if not group:
            continue
        with st.expander(f"{severity.title()} ({len(group)})", expanded=severity != "minor"):
            for f, r in group:
                quote = f" — “{md_escape(f.quote)}”" if f.quote else ""
                if f.quote and not f.located:
                    quote += " :orange-badge[quote not found in the text]"
                if f.found_by is not None and len(r.samples) > 1:
                    quote += f" · found by {f.found_by} of {len(r.samples)} samples"
                where = md_escape(r.engine) if outcome.mode == "translate" else (
                    f"{md_escape(r.perspective)} · {md_escape(r.engine)}")
                kind = f"\\[{md_escape(f.category)}\\] " if f.category else ""
                chunk = (f" · chunk {f.chunk}" if f.chunk else "") + (f" · page {f.page}" if f.page else "")
                st.markdown(f"- {kind}{md_escape(f.note)}{quote}  \n  _{where}{chunk}_")


def engine_table(outcome: RunOutcome, names: dict[str, str]) -> None:
    """The per-engine summary, sortable by any column (click its header)."""
    from . import summary

    st.subheader("Per engine")
    rows = summary.engine_rows(outcome.ordered(), outcome.mode, names)
    st.dataframe(summary.styled(rows), hide_index=True, width="stretch", key=f"engines_{outcome.run_id}",
                 placeholder="—", height=min(38 + 35 * len(rows), 600),  # every engine without scrolling, up to ~16
                 column_config={"engine id": st.column_config.TextColumn(help="The full id, as in the exports")})
    st.caption("Click a column header to sort. Latency and tokens/s count the branches that made a call (a cached "
               "answer made none); a cost is “unknown” when an engine has no known price, never $0.")


def cost_note(results: list, names: dict[str, str]) -> None:
    """Say which engines' cost is unknown (left out of the cost chart), or that every engine was free."""
    from . import charts

    if unknown := charts.unknown_cost(results, names):
        st.caption(f"Cost unknown for: {md_escape(', '.join(unknown))} (no price known) — left out of the cost "
                   "chart, not drawn as $0.")
    elif not any(r.cost_usd for r in results):
        st.caption("No cost chart: every branch here was free (offline or simulated engines, or cached answers).")


def charts_panel(outcome: RunOutcome, aggregate: Aggregate, layout: Finished | None = None) -> None:
    """The per-engine table, then charts grouped by engine that read from 2 to 32 branches."""
    from . import charts
    results = outcome.ordered()
    names = charts.names_of(results, engine_labels())
    with _part(layout, "table"):
        engine_table(outcome, names)
    with _part(layout, "charts"):
        _review_charts(outcome, aggregate, results, names)


def _review_charts(outcome: RunOutcome, aggregate: Aggregate, results: list, names: dict[str, str]) -> None:
    from . import charts
    perspectives = len({r.perspective for r in results})
    if aggregate.n_scored:
        radar = len(names) <= charts.RADAR_MAX_ENGINES and perspectives > 2
        heatmap = len(names) > 1 and perspectives > 1
        first, second = st.columns([3, 2]) if radar else (st.container(), None)
        if heatmap:
            first.plotly_chart(charts.heatmap(results, names), key="chart_heatmap")
        if radar and second is not None:
            second.plotly_chart(charts.radar(results, names), key="chart_radar")
        (st.container() if heatmap or not radar else first).plotly_chart(charts.scores(results, aggregate, names),
                                                                         key="chart_scores")
    if any(r.latency_ms is not None for r in results):
        spend = charts.cost(results, names)
        left, right = st.columns(2) if spend is not None else (st.container(), None)
        left.plotly_chart(charts.latency(results, names), key="chart_latency")
        if right is not None and spend is not None:
            right.plotly_chart(spend, key="chart_cost")
        cost_note(results, names)
        st.plotly_chart(charts.timeline(results, names), key="chart_timeline")
    else:  # every branch was cancelled before it began: empty axes would only suggest data
        st.caption("No timeline or latency chart: no branch ran to the end.")
    with st.expander("The graph that ran (LangGraph)"):
        from parallax.run.graph import diagram

        st.mermaid_chart(diagram(two_step=any(r.steps for r in results)))


def export_buttons(outcome: RunOutcome, aggregate: Aggregate) -> None:
    chosen = dataclasses.replace(outcome, aggregate=aggregate, reducer=aggregate.method)
    from .votes import stored_votes  # the run's votes: a "votes" list in the JSON, a votes sheet in the XLSX

    votes = stored_votes(outcome.run_id)
    with_text = st.toggle("Put the input text in the JSON (off: its SHA-256 and length only)", value=True,
                          key=f"export_text_{outcome.run_id}")
    row = st.container(horizontal=True)
    row.download_button("Download CSV", to_csv(chosen), f"parallax-{outcome.run_id}.csv", "text/csv",
                      on_click="ignore", icon=":material/download:")
    row.download_button("Download JSON", to_json(chosen, with_text, votes), f"parallax-{outcome.run_id}.json",
                        "application/json",
                      on_click="ignore", icon=":material/download:")
    row.download_button("Download XLSX", lambda: to_xlsx(chosen, votes), f"parallax-{outcome.run_id}.xlsx",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", on_click="ignore",
                        icon=":material/table:")


def outcome_panels(outcome: RunOutcome, prefix: str, layout: Finished | None = None) -> None:
    """Everything below the cards, for a live run and a stored one alike; given a layout, each part in its place
    there (components/phone.py: on a phone the aggregate and the per-engine table come first)."""
    with _part(layout, "aggregate"):
        if outcome.storage_warning:
            st.warning(md_escape(outcome.storage_warning), icon=":material/cloud_off:")
        aggregate = reducer_panel(outcome, f"{prefix}_reducer_{outcome.run_id}")  # each run opens with its own
        cost_caption(outcome)
        if outcome.mode == "translate":
            best_panel(outcome, aggregate)
    with _part(layout, "middle"):
        export_buttons(outcome, aggregate)
        if outcome.mode == "translate":
            segments_panel(outcome)
            consensus_panel(outcome)
        else:
            chunks_panel(outcome)
            issues_panel(outcome)
    if outcome.mode == "translate":
        translation_charts(outcome, layout)
        with _part(layout, "charts"):
            diff_panel(outcome, f"{prefix}_diff")
            issues_panel(outcome)
            judge_samples_panel(outcome)
    else:
        charts_panel(outcome, aggregate, layout)


def finished_panels(outcome: RunOutcome, prefix: str, layout: Finished) -> None:
    """A finished run's vote and panels, below its cards (Review and Translate; see live.run_section)."""
    from . import votes

    with layout.vote:
        votes.vote_section(outcome, prefix)  # before the verdict and the charts: a vote they do not sway
        st.divider()
    outcome_panels(outcome, prefix, layout)


# Hidden, not removed: the browser still loads the chart's script and draws it.
PRELOAD_CSS = "<style>.st-key-chart_preload { display: none; }</style>"


def preload_charts() -> None:
    """An empty chart, hidden, while the form shows: the browser loads and starts the chart script (4.7 MB) with
    the page, not when a session's first results are drawn — those charts came 4.1 s after the click, the cards
    0.4 s (bench/page_results.py). Importing the script alone at a quiet moment only brought them to 2.6 s."""
    import plotly.graph_objects as go

    st.html(PRELOAD_CSS)
    st.container(key="chart_preload").plotly_chart(go.Figure(), key="chart_preload_figure")


def _part(layout: Finished | None, name: str) -> AbstractContextManager[object]:
    """Where a part goes: its container in the layout, or here, in the order drawn, without one."""
    return getattr(layout, name) if layout is not None else nullcontext()


def cost_caption(outcome: RunOutcome) -> None:
    """What the run cost, its judge included, and the judge's own cost: the CLI's words (parallax.costs)."""
    text = " · ".join(outcome.cost().lines())
    st.caption(md_escape(text[:1].upper() + text[1:]))


def judge_samples_panel(outcome: RunOutcome) -> None:
    """Each judge call: its prompt (neutral labels only — engines are never named to the judge) and raw reply."""
    samples = outcome.assessment.judge_samples if outcome.assessment else []
    if not samples:
        return
    with st.expander(f"The judge's prompts and raw replies ({len(samples)} call{'s' if len(samples) != 1 else ''})"):
        for s in samples:
            labels = ", ".join(f"{chr(65 + p)} = {md_escape(b)}" for b, p in sorted((s.positions or {}).items(),
                                                                                   key=lambda item: item[1]))
            st.markdown(f"**Sample {s.sample + 1}**" + (f" — {labels}" if labels else "")
                        + (f" — :red[{md_escape(s.error)}]" if s.error else ""))
            if s.exchange:
                live.exchange_view(s.exchange, s.raw)


def chunks_panel(outcome: RunOutcome) -> None:
    """Where a long document was cut, and each chunk's score per branch."""
    import pandas as pd
    chunked = [r for r in outcome.ordered() if r.chunks > 1]
    if not chunked:
        return
    with st.expander(f"The document was reviewed in {plural(chunked[0].chunks, 'chunk')} (map-reduce)"):
        rows = [{"branch": r.branch_id, "chunk": c["chunk"], "characters": f"{c['start']:,}–{c['end']:,}",
                 "status": c["status"], "score": c["score"]} for r in chunked for c in r.chunk_results]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder="—")


def _short(text: str, outcome: RunOutcome) -> str:
    """A verdict as the page shows it: engines by their short names (the full ids are on the cards and in exports)."""
    names = display_names([s.engine for s in outcome.branches])
    for engine in sorted(names, key=len, reverse=True):
        text = text.replace(engine, names[engine])
    return text


def best_panel(outcome: RunOutcome, aggregate: Aggregate) -> None:
    """Select-best, on top: which translation leads, what that rests on (the judge's scores paired over segments,
    the engines' agreement, or nothing), and its translation."""
    best = outcome.results.get(aggregate.best) if aggregate.best else None
    demo = outcome.demo
    if best is None:
        if aggregate.n_ok:
            st.warning(f"No best translation: {md_escape(aggregate.formula)}", icon=":material/block:")
        else:
            st.warning("No translation succeeded, so there is no best one.")
        return
    with st.container(border=True):
        if demo:
            st.markdown(f":orange-badge[:material/science: demo] {md_escape(demo)}")
        st.markdown(f"**{md_escape(_short(aggregate.headline(outcome.mode), outcome))}**")
        st.caption(md_escape(_short(aggregate.verdict() or "", outcome)))
        st.markdown(live.marked_translation(best))
        st.caption(md_escape(_short(aggregate.formula, outcome)))
    effect = outcome.assessment.position_effect if outcome.assessment else {}
    if effect:
        st.caption("Judge position effect, measured over the segments (score at a position minus the candidate's "
                   "mean): " + ", ".join(f"{label} {value:+g}" for label, value in effect.items())
                   + ". Positions rotate from segment to segment, so it favours none of the candidates.")


def translation_charts(outcome: RunOutcome, layout: Finished | None = None) -> None:
    with _part(layout, "table"):
        from . import charts
        results = outcome.ordered()
        names = charts.names_of(results, engine_labels())
        engine_table(outcome, names)
    with _part(layout, "charts"):
        _translation_charts(outcome, results, names)


def _translation_charts(outcome: RunOutcome, results: list, names: dict[str, str]) -> None:
    from . import charts
    left, right = st.columns(2)
    if any(r.judge_score is not None for r in results):
        left.plotly_chart(charts.judge_scores(results, names), key="chart_judge")
        if missing := charts.unjudged(results, names):
            left.caption(f"Not judged, so no bar: {md_escape(', '.join(missing))} (agreement is not a judge "
                         "score; it is in the table above).")
        left.caption(f"How the judge scores: {MQM_FORMULA}. Unlike GEMBA, the judge answers in JSON, and with "
                     "“Side by side” it sees every translation in one prompt (positions rotated across samples); "
                     "“One at a time (GEMBA)” is GEMBA's own protocol.")
    else:
        left.info("No judge ran: choose a judge engine to score the translations (MQM).")
    if outcome.assessment and outcome.assessment.matrix:
        right.plotly_chart(charts.agreement_heatmap(outcome.assessment.matrix, names), key="chart_agreement")
        if len(outcome.assessment.matrix) == 2:
            right.caption("With two engines, agreement cannot pick a side: it says how far apart they are, not "
                          "which one is off. A third engine or a judge can.")
    if not any(r.latency_ms is not None for r in results):  # all cancelled before they began
        st.caption("No quality, latency or timeline chart: no translation ran to the end.")
        return
    left, right = st.columns(2)
    left.plotly_chart(charts.quality_cost_latency(results, names), key="chart_quality")
    with left:
        cost_note(results, names)
    right.plotly_chart(charts.timeline(results, names), key="chart_timeline")


def diff_panel(outcome: RunOutcome, key: str) -> None:
    """A word-level diff between any two translations."""
    done = [r.branch_id for r in outcome.ordered() if r.status == "ok"]
    if len(done) < 2:
        return
    st.subheader("Compare two translations")
    # Start with the two that agree most: their differences are the interesting ones.
    ranked = sorted(done, key=lambda b: outcome.results[b].agreement or 0, reverse=True)
    a, b = st.columns(2)
    first = a.selectbox("From", done, index=done.index(ranked[0]), key=f"{key}_a")
    second = b.selectbox("To", done, index=done.index(ranked[1]), key=f"{key}_b")
    st.caption("Red: only in “From” · green: only in “To”.")
    with st.container(border=True):
        st.markdown(diff_markdown(outcome.results[first].text, outcome.results[second].text))


def diff_markdown(a: str, b: str) -> str:
    """The word diff as markdown: colour only (a strikethrough's ~~ next to escaped tildes in the text read as
    "~~~Your~ ~~"), every word escaped."""
    parts = []
    for op, words in word_diff(a, b):
        escaped = md_escape(words)
        parts.append(escaped if op == "=" else f":red-background[{escaped}]" if op == "-"
                     else f":green-background[{escaped}]")
    return "".join(parts)
