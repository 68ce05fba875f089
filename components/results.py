"""The reducer made visible, the consolidated issues, the charts and the export buttons for a finished run."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import streamlit as st

from parallax.export import to_csv, to_json
from parallax.graph import build_review_graph
from parallax.reducers import REDUCERS, reduce
from parallax.results import SEVERITIES, Aggregate
from parallax.run import RunOutcome

from . import charts
from .safe import md_escape

DISAGREEMENT_SPREAD = 3.0  # points out of 10 between the harshest and the kindest branch


def reducer_panel(outcome: RunOutcome, key: str) -> Aggregate:
    """Aggregate score with a reducer selector that recomputes from the stored results — no new calls."""
    st.session_state.setdefault(key, outcome.reducer)
    method = st.segmented_control("Reducer", list(REDUCERS), key=key, required=True,
                                  help="How branch scores merge. Switching recomputes from the stored results.")
    aggregate = reduce(outcome.ordered(), method or outcome.reducer)
    a, b, c, d = st.columns(4)
    a.metric("Aggregate score", "—" if aggregate.score is None else f"{aggregate.score:.2f} / 10",
             help="Empty, not 0, when no branch succeeded.")
    b.metric("Succeeded", f"{aggregate.n_ok} of {aggregate.n_total}")
    c.metric("Spread (max − min)", "—" if aggregate.spread is None else f"{aggregate.spread:g}")
    speed = charts.speedup(outcome.ordered(), outcome.wall_ms)
    d.metric("Parallel speed-up", "—" if speed is None else f"{speed:.1f}× faster",
             help="Sum of branch latencies ÷ wall time: how much faster than one after another.")
    if aggregate.spread is not None and aggregate.spread >= DISAGREEMENT_SPREAD:
        st.warning(f"The branches disagree: scores are {aggregate.spread:g} points apart. "
                   "Read the lowest-scoring perspectives before trusting the aggregate.", icon=":material/warning:")
    with st.expander("How the reducer merged the branches", expanded=False):
        st.markdown(f"**Formula** (`{aggregate.method}`, failed branches excluded and counted):")
        st.code(aggregate.formula, language=None)
        st.markdown("**Merged state as the reducer saw it** — branches arrive in no fixed order; each carries "
                    "its declared position, and the reducer sorts by it.")
        st.dataframe(arrival_table(outcome), hide_index=True, width="stretch")
    return aggregate


def arrival_table(outcome: RunOutcome) -> pd.DataFrame:
    rows = []
    for arrived, branch_id in enumerate(outcome.arrival, start=1):
        r = outcome.results[branch_id]
        rows.append({"arrived": arrived, "declared": r.order + 1, "branch": branch_id, "status": r.status,
                     "score": r.score, "finished at (s)": None if r.ended_s is None else round(r.ended_s, 3)})
    return pd.DataFrame(rows)


def issues_panel(outcome: RunOutcome) -> None:
    found = [(f, r) for r in outcome.ordered() for f in r.issues]
    st.subheader(f"Issues from all perspectives ({len(found)})")
    if not found:
        st.caption("No branch reported an issue.")
        return
    for severity in SEVERITIES:
        group = [(f, r) for f, r in found if f.severity == severity]
        if not group:
            continue
        with st.expander(f"{severity.title()} ({len(group)})", expanded=severity != "minor"):
            for f, r in group:
                quote = f" — “{md_escape(f.quote)}”" if f.quote else ""
                st.markdown(f"- {md_escape(f.note)}{quote}  \n  _{md_escape(r.perspective)} · {md_escape(r.engine)}_")


def charts_panel(outcome: RunOutcome, aggregate: Aggregate) -> None:
    results = outcome.ordered()
    if aggregate.n_ok:
        left, right = st.columns(2)
        left.plotly_chart(charts.radar(results), key="chart_radar")
        right.plotly_chart(charts.scores(results, aggregate), key="chart_scores")
    left, right = st.columns(2)
    left.plotly_chart(charts.timeline(results), key="chart_timeline")
    right.plotly_chart(charts.latency_cost(results), key="chart_latency")
    with st.expander("The graph that ran (LangGraph)"):
        st.mermaid_chart(mermaid_text())


@st.cache_data
def mermaid_text() -> str:
    return re.sub(r"</?p>", "", build_review_graph().get_graph().draw_mermaid())


def export_buttons(outcome: RunOutcome, aggregate: Aggregate) -> None:
    chosen = dataclasses.replace(outcome, aggregate=aggregate, reducer=aggregate.method)
    a, b, _ = st.columns([1, 1, 4])
    a.download_button("Download CSV", to_csv(chosen), f"parallax-{outcome.run_id}.csv", "text/csv",
                      on_click="ignore", icon=":material/download:")
    b.download_button("Download JSON", to_json(chosen), f"parallax-{outcome.run_id}.json", "application/json",
                      on_click="ignore", icon=":material/download:")
