"""The consensus translation on the page: the best-agreeing candidate per segment, which the user can take from
another engine or edit, exported as text, DOCX and JSON provenance."""

from __future__ import annotations

import streamlit as st

from parallax.run.execute import RunOutcome
from parallax.translate.consensus import Consensus, consensus, to_docx

from .names import display_names


def consensus_panel(outcome: RunOutcome) -> None:
    units = outcome.assessment.units if outcome.assessment else []
    found = consensus(units, outcome.ordered())
    if found is None:
        return
    import pandas as pd

    results = outcome.ordered()
    names = display_names(found.candidates)
    by_name = {names[b]: b for b in found.candidates}
    with st.expander(f"Consensus translation: for each segment, the candidate with the highest {found.utility}"):
        st.caption("Non-translations are never chosen. Change the engine of a segment, or write your own text in "
                   "“your text” (it then replaces the engine's).")
        table = pd.DataFrame([{"#": p.segment + 1, "source": p.source, "from": names[p.engine],
                               "utility": p.utility, "your text": ""} for p in found.picks])
        edited = st.data_editor(
            table, hide_index=True, width="stretch", key=f"consensus_{outcome.run_id}",
            disabled=["#", "source", "utility"],
            column_config={"from": st.column_config.SelectboxColumn("from", options=list(by_name), required=True),
                           "utility": st.column_config.NumberColumn(
                               "utility", help=f"{found.utility} of the chosen candidate"),
                           "source": st.column_config.TextColumn(width="large"),
                           "your text": st.column_config.TextColumn(width="large")})
        final: Consensus = found
        for row, pick in zip(edited.itertuples(index=False), found.picks, strict=True):
            engine = by_name.get(str(row[2]), pick.engine)
            if engine != pick.engine:
                final = final.with_choice(pick.segment, engine, results)
            if str(row[4] or "").strip():
                final = final.with_edit(pick.segment, str(row[4]).strip())
        st.text_area("Consensus text", final.text, height=160, disabled=True, key=f"consensus_text_{outcome.run_id}")
        row_ = st.container(horizontal=True)
        row_.download_button("Download TXT", final.text, f"parallax-{outcome.run_id}-consensus.txt", "text/plain",
                             on_click="ignore", icon=":material/download:")
        row_.download_button("Download DOCX", lambda: to_docx(final.text), f"parallax-{outcome.run_id}-consensus.docx",
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                             on_click="ignore", icon=":material/description:")
        row_.download_button("Download provenance JSON", final.provenance(),
                             f"parallax-{outcome.run_id}-consensus.json", "application/json", on_click="ignore",
                             icon=":material/data_object:")
