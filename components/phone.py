"""A finished run on a narrow screen (a phone): its aggregate and per-engine summary first, its cards collapsed.

Streamlit does not tell the server how wide the screen is, so the browser decides, with a CSS media query. The run's
parts are drawn, in their desktop order, into keyed containers that are siblings in one flex column (a Streamlit
vertical block). Below PHONE_PX wide: the aggregate and the summary table take `order` values that put them on top
(a rule above them parts them from the form, as the divider does on a desktop; the four numbers two by two); each
finished card is a short preview that scrolls on its own (shown whole while one of its expanders is open); the
blind vote's two texts are capped the same way. On a wider screen the CSS does nothing: the page reads as before.
The CSS is fixed text with the page's own prefix in it, never model output or user text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

PHONE_PX = 640  # Streamlit stacks columns below this width too
CARD_PREVIEW = "15rem"  # a collapsed card: its badge, score, and the first lines of its summary or translation
VOTE_PREVIEW = "16rem"  # each of the blind vote's two texts
PARTS = ("cards", "vote", "aggregate", "middle", "table", "charts")  # their order on a desktop
# Each keyed container is the only child of a layout wrapper: the wrapper is the flex item that `order` moves.
PHONE_CSS = """<style>
@media (max-width: {px}px) {{
  .st-key-{p}_finished > [data-testid=stLayoutWrapper]:has(> .st-key-{p}_finished_aggregate) {{ order: -2; }}
  .st-key-{p}_finished > [data-testid=stLayoutWrapper]:has(> .st-key-{p}_finished_table) {{ order: -1; }}
  .st-key-{p}_finished_aggregate {{ border-top: 1px solid rgba(128, 128, 128, 0.3); padding-top: 1.5rem; }}
  .st-key-{p}_finished_aggregate > [data-testid=stLayoutWrapper] > [data-testid=stHorizontalBlock]
    > [data-testid=stColumn] {{ min-width: calc(50% - 1rem) !important; flex: 1 1 calc(50% - 1rem) !important; }}
  .st-key-{p}_finished_aggregate [data-testid=stMetricValue],
  .st-key-{p}_finished_aggregate [data-testid=stMetricValue] * {{ font-size: 1.75rem; white-space: normal; }}
  .st-key-{p}_finished_cards [class*="st-key-{board}_card"] {{ max-height: {card}; overflow-y: auto; }}
  .st-key-{p}_finished_cards [class*="st-key-{board}_card"]:has(details[open]) {{ max-height: none; }}
  .st-key-{p}_finished_cards [class*="st-key-{board}_card"] [data-testid=stVerticalBlock] {{
    height: auto !important; max-height: none !important; overflow: visible !important; }}
  .st-key-{p}_finished_vote [data-testid=stColumn] [data-testid=stLayoutWrapper] > [data-testid=stVerticalBlock] {{
    max-height: {vote} !important; overflow-y: auto !important; }}
}}
</style>"""


@dataclass
class Finished:
    """Where each part of a finished run is drawn (containers: `with layout.cards:` or `layout.cards.markdown`)."""

    cards: Any
    vote: Any
    aggregate: Any  # the reducer's score (and a translation's best one)
    middle: Any  # exports, issues, segments…: what comes between the aggregate and the summary table on a desktop
    table: Any  # the per-engine summary table
    charts: Any


def finished_layout(prefix: str, board_key: str) -> Finished:
    """The containers of a finished run, in their desktop order, with the CSS that reorders them on a phone."""
    st.html(PHONE_CSS.format(px=PHONE_PX, p=prefix, board=board_key, card=CARD_PREVIEW, vote=VOTE_PREVIEW))
    box = st.container(key=f"{prefix}_finished")
    return Finished(**{part: box.container(key=f"{prefix}_finished_{part}") for part in PARTS})
