"""Leaderboard: engines ranked across the history's runs — Bradley–Terry ratings with 95% bootstrap intervals, from
judge verdicts or from human votes (never mixed), filtered by mode, language pair, perspective, engine and date."""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pandas.io.formats.style import Styler

from components.names import display_names
from components.settings import engine_labels, history_store
from parallax.leaderboard import NOT_ENOUGH, SOURCE_NAMES, SOURCES, Collected, Filters, Leaderboard, collect, rate
from parallax.storage import database_url, open_store

ALL = "All"
EMPTY = "No comparisons in the history for these filters."
RANKED, UNRANKED = "#4c78a8", "#a0a0a0"


@st.cache_data(ttl=10, show_spinner=False)
def comparisons(url: str, source: str) -> Collected:
    """Every comparison of one source in the history (read again after 10 s: new runs and votes come in)."""
    return collect(open_store(url), source)


@st.cache_data(max_entries=64, show_spinner="Fitting the ratings…")
def board(url: str, source: str, filters: Filters, fingerprint: int) -> Leaderboard:
    """Fitted again only when the comparisons change (`fingerprint`) or the filters do: 300 fits take seconds."""
    return rate(comparisons(url, source), filters)


def fingerprint(collected: Collected) -> int:
    return hash((tuple(collected.comparisons), tuple((x.reason, x.run_id, x.first) for x in collected.left_out)))


def chart(found: Leaderboard, names: dict[str, str]) -> go.Figure:
    """Each engine's rating and 95% interval, one row each, best at the top (about 26 px a row: 30 engines fit).
    An open side of an interval runs to the edge of the chart and ends in an arrow."""
    rows = found.standings
    known = [v for s in rows for v in (s.rating, s.low, s.high) if v is not None]
    edge_low, edge_high = min(known) - 60, max(known) + 60
    low = [edge_low if s.low is None else s.low for s in rows]
    high = [edge_high if s.high is None else s.high for s in rows]
    fig = go.Figure(go.Scatter(
        x=[s.rating for s in rows], y=[names[s.engine] for s in rows], mode="markers",
        marker={"size": 10, "color": [RANKED if s.enough else UNRANKED for s in rows]},
        error_x={"type": "data", "symmetric": False, "array": [h - s.rating for h, s in zip(high, rows, strict=True)],
                 "arrayminus": [s.rating - lo for lo, s in zip(low, rows, strict=True)], "thickness": 2, "width": 4},
        customdata=[[s.engine, "-∞" if s.low is None else f"{s.low:.0f}", "∞" if s.high is None else f"{s.high:.0f}",
                     s.comparisons, f"{s.wins}/{s.losses}/{s.ties}", "" if s.enough else f"<br>{NOT_ENOUGH}"]
                    for s in rows],
        hovertemplate="%{customdata[0]}<br>rating %{x:.0f} [%{customdata[1]}, %{customdata[2]}]<br>"
                      "%{customdata[3]} comparisons, W/L/T %{customdata[4]}%{customdata[5]}<extra></extra>"))
    for side, edge, symbol in (("high", edge_high, "triangle-right"), ("low", edge_low, "triangle-left")):
        open_rows = [s for s in rows if getattr(s, side) is None]
        if open_rows:
            fig.add_trace(go.Scatter(x=[edge] * len(open_rows), y=[names[s.engine] for s in open_rows], mode="markers",
                                     marker={"symbol": symbol, "size": 11, "color": "#555"}, hoverinfo="skip"))
    fig.add_vline(x=1000, line_dash="dot", line_color="#888")
    notes = (["grey: not enough comparisons"] if not all(s.enough for s in rows) else []) + (
        ["an arrow: no bound on that side"] if any(s.low is None or s.high is None for s in rows) else [])
    fig.update_layout(title="Ratings with their 95% intervals" + (f" ({'; '.join(notes)})" if notes else ""),
                      height=max(260, 120 + 26 * len(rows)), margin={"l": 10, "r": 40, "t": 60, "b": 10},
                      modebar={"orientation": "v"}, showlegend=False,
                      xaxis={"title": "rating (Elo-like; the mean engine is 1000)",
                             "range": [edge_low - 15, edge_high + 15]},
                      yaxis={"autorange": "reversed", "automargin": True, "type": "category"})
    return fig


def table(found: Leaderboard, names: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"rank": s.rank, "engine": names[s.engine], "rating": s.rating, "95% low": s.low,
                          "95% high": s.high, "comparisons": s.comparisons, "wins": s.wins, "losses": s.losses,
                          "ties": s.ties, "status": "ranked" if s.enough else NOT_ENOUGH, "engine id": s.engine}
                         for s in found.standings])


def shown(frame: pd.DataFrame) -> Styler:
    """Rounded; an unranked engine's rank "—" and an open side "∞", kept as numbers (infinite) so that sorting puts
    them where they belong (the browser shows a missing number as "None", whatever the style says)."""
    frame = frame.assign(**{"rank": frame["rank"].fillna(math.inf), "95% low": frame["95% low"].fillna(-math.inf),
                            "95% high": frame["95% high"].fillna(math.inf)})

    def number(value: float) -> str:
        return "∞" if value == math.inf else "-∞" if value == -math.inf else f"{value:.0f}"

    return frame.style.format(number, subset=["rating", "95% low", "95% high"]).format(
        lambda value: "—" if value == math.inf else f"{value:.0f}", subset=["rank"])


st.title("Leaderboard")
st.caption("Which engine wins when two are compared on the same text, over every run in the history. Judge "
           "verdicts and human votes are two separate leaderboards: one never stands in for the other.")
store = history_store()
if store is None:
    st.error("The history cannot be reached. Set PARALLAX_DATABASE_URL to a reachable database; Parallax tries "
             "again by itself.", icon=":material/cloud_off:")
    st.stop()
url = database_url()
source = st.radio("Ranked by", SOURCES, format_func=lambda s: SOURCE_NAMES[s].capitalize(), horizontal=True,
                  key="leaderboard_source")
collected = comparisons(url, source)
found_all = collected.comparisons
a, b, c, d, e = st.columns([1, 1, 1.2, 2.4, 1.2])
mode = a.selectbox("Mode", [ALL, "translate", "review"], key="leaderboard_mode")
pair = b.selectbox("Language pair", [ALL, *sorted({x.pair for x in found_all if x.pair})], key="leaderboard_pair")
perspective = c.selectbox("Perspective", [ALL, *sorted({x.perspective for x in found_all if x.perspective})],
                          key="leaderboard_perspective", help="Review perspectives (reviews are ranked by votes).")
known = sorted({engine for x in found_all for engine in (x.first, x.second)})
names = display_names(known, engine_labels())
engines = d.multiselect("Engines", known, format_func=lambda engine: names.get(engine, engine),
                        key="leaderboard_engines",
                        help="One engine: its comparisons with every engine it met. Several: only the comparisons "
                             "among them.")
since = e.date_input("Since", value=None, key="leaderboard_since", help="Runs from this day on.")
filters = Filters(None if mode == ALL else mode, None if pair == ALL else pair,
                  None if perspective == ALL else perspective, tuple(engines),
                  since.isoformat() if isinstance(since, date) else None)
found = board(url, source, filters, fingerprint(collected))
if found.note:
    st.info(found.note, icon=":material/info:")
if found.empty:
    st.info(EMPTY)
    st.stop()
names = display_names([s.engine for s in found.standings], engine_labels())
ranked = [s for s in found.standings if s.enough]
if ranked:
    st.markdown(f"**{len(ranked)} engines ranked** from {found.comparisons} comparisons in {found.runs} runs"
                + (f"; {len(found.standings) - len(ranked)} with {NOT_ENOUGH}" if len(ranked) < len(found.standings)
                   else "") + ".")
else:
    st.warning(f"No engine has {found.threshold} comparisons yet: every rating below is {NOT_ENOUGH}.")
st.plotly_chart(chart(found, names), key="leaderboard_chart")
st.dataframe(shown(table(found, names)), hide_index=True, width="stretch", key="leaderboard_table",
             height=min(38 + 35 * len(found.standings), 1100))  # every engine in sight, up to about 30
st.caption(found.basis())
left, right = st.columns(2)
left.download_button("Download CSV", table(found, names).to_csv(index=False), f"leaderboard-{source}.csv",
                     "text/csv", key="leaderboard_csv")
right.download_button("Download JSON", json.dumps(found.to_dict(), ensure_ascii=False, indent=2),
                      f"leaderboard-{source}.json", "application/json", key="leaderboard_json")
