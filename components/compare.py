"""History's "Compare two runs" tab: pick two runs and see them side by side."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import results


def compare_section(store, runs: list[dict], when: Callable[[str], str]) -> None:
    """Two run pickers and the comparison of the chosen runs (`when` shows a stored time in local time)."""
    if len(runs) < 2:
        st.info("Keep at least two runs to compare them.")
        return
    labels = {r["run_id"]: f"{when(r['created_at'])} · {r['mode']} · {r['status']} · {r['text'][:40]}" for r in runs}
    ids = list(labels)
    left, right = st.columns(2)
    first = left.selectbox("Run A", ids, index=1, format_func=labels.get, key="history_compare_a")
    second = right.selectbox("Run B", ids, index=0, format_func=labels.get, key="history_compare_b")
    table = results.compare_table(store.load_run(first), store.load_run(second))
    st.dataframe(table.style.map(results.change_colour, subset=["change"]).format(precision=2, na_rep="—"),
                 hide_index=True, width="stretch", placeholder="—")
