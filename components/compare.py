"""History's "Compare two runs" tab: two runs picked (by default the newest and the one before it of the same
mode), their branches matched by perspective × engine or by engine, scores and statuses in one table, and each
matched row's outputs side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import streamlit as st

from parallax.compare import Match, MatchBy, default_pair, match_runs, unscored_reason
from parallax.costs import usd
from parallax.results import BranchResult
from parallax.review.judgement import readable

from .cards import marked_translation
from .names import display_names
from .safe import md_escape
from .settings import engine_labels
from .summary import MISSING, engine_rows, score_column

if TYPE_CHECKING:
    import pandas as pd

    from parallax.storage import RunRecord

MATCH_BY: dict[str, MatchBy] = {"perspective × engine": "branch", "engine": "engine"}
MODE_NOUNS = {"review": "a review (scored 0–10)", "translate": "a translation (judged 0–100)"}
LONG_TEXT = 900  # characters past which an output scrolls inside its column


def scale(mode: str) -> str:
    """A branch's score on its named scale: "score (0–10)" for a review, "judge score (0–100)" for a translation."""
    return score_column(mode).removeprefix("mean ")


def run_label(run: Mapping[str, Any], when: Callable[[str], str]) -> str:
    """A run in a picker: when it started (local time), its mode, its engines by short name; a status other than
    completed."""
    engines = list(display_names(run["engines"].split(", "), engine_labels()).values()) if run["engines"] else []
    shown = ", ".join(engines[:3]) + (f" +{len(engines) - 3} more" if len(engines) > 3 else "")
    status = "" if run["status"] == "completed" else f" · {run['status']}"
    return f"{when(run['created_at'])} · {run['mode']} · {shown or 'no engine'}{status}"


def score_cell(results: Sequence[BranchResult], mode: str = "review") -> str:
    """A score as the tables show it ("7.50"), or why there is none ("error", "cancelled", "not judged"; "—": not in
    the run)."""
    reason = unscored_reason(results, mode)
    if reason is not None:
        return reason
    scores = [r.score for r in results if r.scored and r.score is not None]
    return f"{sum(scores) / len(scores):.2f}"


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _change(a: str, b: str, comparable: bool) -> float | None:
    first, second = _number(a), _number(b)
    return None if not comparable or first is None or second is None else round(second - first, 2)


def _aggregate_cell(record: RunRecord) -> str:
    score = record.aggregate.score if record.aggregate else None
    return MISSING if score is None else f"{score:.2f}"


def branch_table(a: RunRecord, b: RunRecord, names: Mapping[str, str]) -> pd.DataFrame:
    """One row per perspective × engine, each run's score on its scale or why it has none, and the change from A to
    B (runs of one mode only); each run's aggregate first."""
    import pandas as pd

    score_a, score_b = f"A {scale(a.mode)}", f"B {scale(b.mode)}"
    same = a.mode == b.mode
    rows = [{"perspective": "aggregate", "engine": "", "in": "A and B", score_a: _aggregate_cell(a),
             score_b: _aggregate_cell(b)}]
    for m in match_runs(a.results.values(), b.results.values(), "branch"):
        rows.append({"perspective": m.perspective, "engine": names[m.engine], "in": m.presence,
                     score_a: score_cell(m.a, a.mode), score_b: score_cell(m.b, b.mode)})
    table = pd.DataFrame(rows)
    table.insert(5, "change", [_change(x, y, same) for x, y in zip(table[score_a], table[score_b], strict=True)])
    table["change"] = table["change"].astype("float64")
    return table


def engine_table(a: RunRecord, b: RunRecord, names: Mapping[str, str]) -> pd.DataFrame:
    """One row per engine over its branches in each run — mean score on the run's scale (or why there is none),
    succeeded k of N, mean latency, cost — as the run's per-engine summary counts them; each aggregate first."""
    import pandas as pd

    def summaries(record: RunRecord) -> dict[str, dict[str, Any]]:
        return {row["engine id"]: row for row in engine_rows(list(record.results.values()), record.mode, names)}

    rows_a, rows_b = summaries(a), summaries(b)
    score_a, score_b = f"A {score_column(a.mode)}", f"B {score_column(b.mode)}"
    same = a.mode == b.mode

    def side(record: RunRecord, row: dict[str, Any] | None, results: Sequence[BranchResult]) -> list[Any]:
        if row is None:
            return [MISSING, MISSING, None, MISSING]
        mean = row[score_column(record.mode)]
        return [score_cell(results, record.mode) if mean is None else f"{mean:.2f}", row["succeeded"],
                row["mean latency (s)"], usd(row["cost"])]

    rows = [["aggregate", "A and B", _aggregate_cell(a), _aggregate_cell(b),
             *[f"{r.aggregate.n_ok} of {r.aggregate.n_total}" if r.aggregate else MISSING for r in (a, b)],
             None, None, MISSING, MISSING]]
    for m in match_runs(a.results.values(), b.results.values(), "engine"):
        first, second = side(a, rows_a.get(m.engine), m.a), side(b, rows_b.get(m.engine), m.b)
        rows.append([names[m.engine], m.presence, first[0], second[0], first[1], second[1], first[2], second[2],
                     first[3], second[3]])
    table = pd.DataFrame(rows, columns=["engine", "in", score_a, score_b, "A succeeded", "B succeeded",
                                        "A latency (s)", "B latency (s)", "A cost", "B cost"])
    table.insert(4, "change", [_change(x, y, same) for x, y in zip(table[score_a], table[score_b], strict=True)])
    for column in ("change", "A latency (s)", "B latency (s)"):
        table[column] = table[column].astype("float64")
    return table


def change_colour(value: object) -> str:
    """Green where run B scores higher, red where lower (the `change` column)."""
    if not isinstance(value, int | float) or value != value or value == 0:
        return ""
    return "color: #15803d; font-weight: 600" if value > 0 else "color: #b91c1c; font-weight: 600"


def _output(r: BranchResult, mode: str) -> None:
    """One branch's output as plain text: a review's score, summary and issues, a translation with its error spans,
    or the failure and any partial text — all escaped."""
    if not r.ok:
        st.markdown(f":red-badge[{r.status}]")
        if r.error:
            st.caption(md_escape(r.error))
        if r.text:
            st.code(readable(r.text), language=None, wrap_lines=True, height=160)
        return
    if r.scored:
        st.markdown(f"**{score_cell([r])}** / {'100 (judge)' if mode == 'translate' else '10'}")
    with st.container(height=320 if len(r.text if mode == "translate" else r.summary) > LONG_TEXT else "content",
                      border=False):
        if mode == "translate":
            st.markdown(marked_translation(r) or "*(empty)*")
        else:
            st.markdown(md_escape(r.summary) or "*(no summary)*")
            for f in r.issues:
                st.markdown(f"- **{md_escape(f.severity)}** “{md_escape(f.quote)}” — {md_escape(f.note)}")


def _side(column: Any, run: str, record: RunRecord, results: Sequence[BranchResult], by_engine: bool) -> None:
    with column:
        st.markdown(f"**Run {run}** · {record.mode}")
        if not results:
            st.caption(f"Not in run {run}.")
        for r in results:
            if by_engine and record.mode == "review":  # a translation's one branch has no perspective to name
                st.markdown(f"*{md_escape(r.perspective)}*")
            _output(r, record.mode)


def _both(m: Match, a: RunRecord, b: RunRecord) -> str:
    """Both runs' scores in a matched row's title (the cells are ours: no escaping)."""
    first = f"A {score_cell(m.a, a.mode)}" if m.a else "not in run A"
    second = f"B {score_cell(m.b, b.mode)}" if m.b else "not in run B"
    return f"{first} · {second}"


def outputs(matches: Sequence[Match], a: RunRecord, b: RunRecord, names: Mapping[str, str]) -> None:
    """An expander per matched row, its title the scores of both runs, run A's output beside run B's."""
    for m in matches:
        by_engine = m.perspective is None
        what = md_escape(names[m.engine] if by_engine else f"{m.perspective} · {names[m.engine]}")
        with st.expander(f"{what} — {_both(m, a, b)}"):
            left, right = st.columns(2, gap="medium")
            _side(left, "A", a, m.a, by_engine)
            _side(right, "B", b, m.b, by_engine)


def compare_section(store: Any, runs: list[dict[str, Any]], when: Callable[[str], str]) -> None:
    """Two run pickers and the comparison of the chosen runs (`when` shows a stored time in local time)."""
    if len(runs) < 2:
        st.info("Keep at least two runs to compare them.")
        return
    labels = {r["run_id"]: run_label(r, when) for r in runs}
    ids = list(labels)
    first, second = default_pair(runs)
    left, right = st.columns(2)
    first = left.selectbox("Run A", ids, index=ids.index(first), format_func=labels.get, key="history_compare_a")
    second = right.selectbox("Run B", ids, index=ids.index(second), format_func=labels.get, key="history_compare_b")
    a, b = store.load_run(first), store.load_run(second)
    if first == second:
        st.info("Run A and run B are the same run: pick another one to compare.")
    elif a.mode != b.mode:
        st.warning(f"Run A is {MODE_NOUNS.get(a.mode, a.mode)} and run B {MODE_NOUNS.get(b.mode, b.mode)}: "
                   "different scales, so no change is shown. Matching by engine lines up the engines both runs "
                   "used.", icon=":material/compare_arrows:")
    translating = "translate" in (a.mode, b.mode)
    choice = st.radio("Match by", list(MATCH_BY), index=1 if translating else 0, horizontal=True,
                      key="history_compare_by",
                      help="perspective × engine: each branch beside the same branch of the other run. engine: each "
                           "engine's branches together (mean score, succeeded, latency, cost), for runs whose "
                           "perspectives differ. A translation has one branch per engine.")
    by = MATCH_BY[choice or "perspective × engine"]
    names = display_names([r.engine for r in (*a.results.values(), *b.results.values())], engine_labels())
    table = branch_table(a, b, names) if by == "branch" else engine_table(a, b, names)
    # Every row in view up to a long run's worth (no scrolling inside a short table); 35 px a row and the header.
    st.dataframe(table.style.map(change_colour, subset=["change"]).format(precision=2, na_rep=MISSING),
                 hide_index=True, width="stretch", placeholder=MISSING, height=min(len(table) + 1, 16) * 35 + 3,
                 column_config={"perspective": st.column_config.TextColumn(pinned=True),
                                "engine": st.column_config.TextColumn(pinned=True, width="medium"),
                                "in": st.column_config.TextColumn(width="small")})
    st.caption("A score reads what happened where there is none: error, timeout, cancelled; “—”: the run does not "
               "have it. The change is B minus A; the aggregate row is each run's own reducer."
               + (" Latency counts the calls made: a cached answer took none." if by == "engine" else ""))
    st.subheader("Outputs side by side", anchor=False)
    outputs(match_runs(a.results.values(), b.results.values(), by), a, b, names)
