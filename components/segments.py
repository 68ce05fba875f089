"""The segments view: the source's segments as rows, each translation aligned to them as columns, with the judge's
score of each segment and how the alignment went."""

from __future__ import annotations

import streamlit as st

from parallax.export import segments_csv
from parallax.run.execute import RunOutcome

from .names import display_names
from .safe import md_escape


def segments_panel(outcome: RunOutcome) -> None:
    units = outcome.assessment.units if outcome.assessment else []
    aligned = [r for r in outcome.ordered() if r.segments]
    if not units or not aligned:
        return
    import pandas as pd

    names = display_names([r.engine for r in aligned])
    judged = any(r.segment_scores for r in aligned)
    with st.expander(f"Segments: the source in {len(units)} segment{'s' if len(units) != 1 else ''}, each "
                     "translation aligned to them" + (", scored by the judge (0-100)" if judged else ""),
                     expanded=len(units) <= 30):
        rows = []
        for n, source in enumerate(units):
            row: dict[str, object] = {"#": n + 1, "source": source}
            for r in aligned:
                row[names[r.engine]] = r.segments[n] or "—"
                if r.segment_scores:
                    score = r.segment_scores[n]
                    row[f"{names[r.engine]} · score"] = "—" if score is None else f"{score:g}"
            rows.append(row)
        config = {"#": st.column_config.NumberColumn(width="small"),
                  "source": st.column_config.TextColumn(width="large"),
                  **{names[r.engine]: st.column_config.TextColumn(width="large", help=r.engine) for r in aligned}}
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config=config, row_height=70)
        notes = []
        for r in aligned:
            beads = r.alignment.get("beads") or {}
            shape = ", ".join(f"{count} × {kind}" for kind, count in sorted(beads.items(), key=lambda kv: -kv[1]))
            lowest = r.alignment.get("lowest_match")
            notes.append(f"{names[r.engine]}: {shape}" + (f", lowest length match {lowest:.2f}" if lowest is not None
                                                            else ""))
        st.caption("Aligned by sentence length (Gale-Church beads: 1-1 one sentence for one; 2-1 a translation that "
                   "joined two source sentences, whose segments then count as one for every engine). "
                   + md_escape("; ".join(notes)) + ". A length match below 0.05 is worth a look.")
        st.download_button("Download segments CSV", segments_csv(outcome), f"parallax-{outcome.run_id}-segments.csv",
                           "text/csv", on_click="ignore", icon=":material/download:")
