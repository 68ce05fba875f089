"""The board of branch cards, live and finished: a review over several engines is a grid (engines as column
headers by their short names, perspectives as row headers) that scrolls sideways past what fits; otherwise cards
in rows of at most four. Each card is drawn once; the run loop (live.py) then updates its badge, text and
counters."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from html import escape
from typing import Any

import streamlit as st

from parallax.engines.base import Engine
from parallax.estimate import TOKEN_METHOD, estimate_tokens
from parallax.results import BranchResult, BranchSpec
from parallax.review.judgement import readable
from parallax.run.execute import RunOutcome

from .cards import finished_body, metrics_line
from .names import display_names
from .safe import md_escape
from .settings import engine_labels

PER_ROW = 4
MIN_COLUMN_PX = 200  # a grid column never gets narrower: past what fits, the grid scrolls sideways
ROW_HEADER_PX = 110
GAP_PX = 16  # Streamlit's "small" gap between a row's cells
LIVE_HEIGHT = 220  # px: a live card's text box, its newest line at the bottom (LIVE_BOX)
META_REDRAW_S = 0.25  # a live card's counters (tokens, tokens/s, seconds) at most four times a second
TAIL_CHARS = 2000  # a live card shows (and resends) at most the last 2,000 characters of its text
BADGES = {
    "queued": ":gray-badge[queued]",
    "streaming": ":blue-badge[streaming]",
    "ok": ":green-badge[done]",
    "error": ":red-badge[error]",
    "timeout": ":orange-badge[timed out]",
    "truncated": ":orange-badge[truncated]",
    "cancelled": ":gray-badge[cancelled]",
}
# One scrolling box for the whole grid (every row scrolls with the header), rows as wide as their columns need,
# columns sharing the width equally down to MIN_COLUMN_PX, the row headers kept in view while it scrolls (opaque,
# in the theme's secondary background: the app follows the system's light or dark setting); and the corner's words.
GRID_CSS = """<style>
.st-key-{key}_rows {{ width: max(100%, {width}px) !important; max-width: none !important; flex: 0 0 auto !important; }}
.st-key-{key}_rows [data-testid=stHorizontalBlock] {{ overflow: visible !important; }}
.st-key-{key}_rows [data-testid=stHorizontalBlock] > * {{ flex: 1 1 0 !important; min-width: 0 !important;
  width: auto !important; }}
.st-key-{key}_rows [data-testid=stHorizontalBlock] > *:first-child {{ flex: 0 0 {head}px !important;
  position: sticky; left: 0; z-index: 3; align-self: stretch; background: #f0f2f6; border-radius: 0.5rem;
  padding: 0.25rem 0.5rem; }}
@media (prefers-color-scheme: dark) {{
  .st-key-{key}_rows [data-testid=stHorizontalBlock] > *:first-child {{ background: #262730; }} }}
</style>
<div style="font-size: 0.8rem; opacity: 0.65; line-height: 1.3">perspective ↓<br>engine →</div>"""
# A live card's text and counters are plain HTML, drawn once (one st.html), then changed in place: on each tick of
# the run loop one script (LIVE_JS) sets the new text and counters of every card that changed, in one update.
# As Streamlit elements (st.code, then st.text), every card's text was one update of the page's element tree per
# card per tick, and the browser fell behind: at 32 cards (~300 updates a second) the first streaming cards showed
# 4 s after Run, and the page froze for up to 2 s at a time (bench/page_stream.py).
# The box follows its newest line by layout alone: a column-reverse box starts at its bottom and stays there as the
# text grows (scrolling up still reads the start; a short text sits at the top; no timer, no animation: Streamlit's
# autoscroll read every box's height every 17 ms and needed frames a busy page did not have, and a busy page showed
# the text's first lines while the card streamed on). Its size does not depend on its text (contain: strict), so a
# new line lays out the box alone.
LIVE_BOX = ('<div style="height: {height}px; overflow-y: auto; display: flex; flex-direction: column-reverse; '
            'contain: strict"><div class="pl-live" id="{id}" style="margin-bottom: auto; white-space: pre-wrap; '
            'overflow-wrap: anywhere; font-size: 0.875rem; line-height: 1.5">{text}</div></div>')
LIVE_NOTE = '<div style="font-size: 0.875rem; opacity: 0.6">{text}</div>'
LIVE_COUNTERS = ('<div class="pl-live-meta" id="{id}" title="{help}" style="font-size: 0.875rem; opacity: 0.6; '
                 'margin-top: 0.75rem">{text}</div>')
COUNTERS_HELP = f"While a branch streams its tokens are {TOKEN_METHOD}; its result has the exact count."
# Text only (textContent: never HTML); the data is JSON with every "<" escaped, so no text can end the script.
LIVE_JS = ("<script>for (const [id, text] of DATA) { const e = document.getElementById(id); "
           "if (e && e.textContent !== text) e.textContent = text; }</script>")


@dataclass
class Card:
    badge: Any
    body: Any
    meta: Any
    drawn_at: float = 0.0
    dirty: bool = False
    started_at: float | None = None  # when the branch started (monotonic), for its elapsed time
    first_text_at: float | None = None  # when its first text arrived, for its tokens per second
    live: bool = False  # streaming (not queued, waiting for a retry or finished): its elapsed time keeps counting
    text_slot: str | None = None  # the element id of its live text (None until it is drawn); its counters' is +"-n"
    noted: bool = False  # its live part shows a note (an engine that does not stream), not a text box
    badge_shown: str = ""  # the badge drawn: redrawn only when it changes
    meta_at: float = 0.0  # when the counters were last drawn


def live_tokens(text: str) -> int:
    """Tokens streamed so far, estimated from the text (parallax.estimate): the exact count only comes with the
    branch's result."""
    return estimate_tokens(text)


def tail(text: str) -> str:
    """The end of a live text: what a reader of a streaming card wants to see, and all that needs resending."""
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]


def live_line(text: str, started_at: float | None, first_text_at: float | None, now: float) -> str:
    """A streaming card's counters: estimated tokens so far, tokens per second since the first one, elapsed time."""
    tokens = live_tokens(text)
    parts = [f"~{tokens:,} tokens"]
    streaming_s = now - first_text_at if first_text_at is not None else 0.0
    parts.append(f"~{tokens / streaming_s:.0f} tokens/s" if tokens and streaming_s >= 0.2 else "– tokens/s")
    if started_at is not None:
        parts.append(f"{now - started_at:.1f} s")
    return " · ".join(parts)


def is_grid(branches: list[BranchSpec], mode: str) -> bool:
    """A review over several engines is drawn as a grid; a translation or a one-engine review as rows of cards."""
    return mode == "review" and len({b.engine for b in branches}) > 1


class Board:
    """One card per branch. A review over several engines: a grid, one row per perspective and one column per
    engine, titled by the engines' short names (the full id on hover), scrolling sideways past what fits.
    Otherwise rows of at most PER_ROW cards titled by perspective (a review; its one engine named above) or by
    engine (a translation)."""

    def __init__(self, branches: list[BranchSpec], mode: str = "review", engines: dict[str, Engine] | None = None,
                 labels: dict[str, str] | None = None, key: str = "board") -> None:
        self.mode = mode
        # Engines that do not stream (DeepL, LibreTranslate) say so while the others stream.
        first = {b.branch_id: (engines or {}).get(b.engine.split("|")[0]) for b in branches}
        self.whole = {b for b, engine in first.items() if engine is not None and not engine.streams}
        self.cards: dict[str, Card] = {}
        self.key = key  # each card's container is keyed `{key}_card{n}` (components/phone.py collapses them)
        self.names = display_names((b.engine for b in branches), engine_labels() if labels is None else labels)
        self.boxes = 0  # live elements drawn: each has an id of its own
        self.pending: dict[str, str] = {}  # new text for live elements, by id, sent together by flush()
        self.ended: dict[str, BranchResult] = {}  # finished branches whose badge reads so, their body not yet drawn
        if is_grid(branches, mode):
            self._grid(branches, key)
        else:
            self._rows(branches)
        self.driver = st.empty()  # LIVE_JS while the board is live: after the cards, where its gap shows least

    @staticmethod
    def _card(box: Any) -> Card:
        return Card(box.empty(), box.empty(), box.empty())

    def _grid(self, branches: list[BranchSpec], key: str) -> None:
        engine_ids = list(self.names)
        perspectives = list(dict.fromkeys(b.perspective for b in branches))
        cell = {(b.perspective, b.engine): b for b in branches}
        if len(engine_ids) > PER_ROW:
            st.caption(f"{len(perspectives)} perspective{'s' if len(perspectives) != 1 else ''} × "
                       f"{len(engine_ids)} engines — scroll the grid sideways to see every engine; hover a column "
                       "header for the engine's full id.")
        rows = st.container(horizontal=True, wrap=False, gap=None, key=f"{key}_scroll").container(
            key=f"{key}_rows", gap="small")
        head = rows.container(horizontal=True, wrap=False, gap="small", vertical_alignment="bottom")
        # The corner cell holds the grid's style: markdown, drawn at once (st.html waits for a lazily loaded part,
        # and a style-only one for the script's end: the live grid would stay unstyled while it runs).
        width = ROW_HEADER_PX + len(engine_ids) * (MIN_COLUMN_PX + GAP_PX)
        head.container().markdown(GRID_CSS.format(key=key, width=width, head=ROW_HEADER_PX), unsafe_allow_html=True)
        for engine_id in engine_ids:
            head.container().markdown(f"**{md_escape(self.names[engine_id])}**", help=f"Engine `{engine_id}`")
        for perspective in perspectives:
            row = rows.container(horizontal=True, wrap=False, gap="small")
            row.container().markdown(f"**{md_escape(perspective)}**")
            for engine_id in engine_ids:
                box = row.container(border=True, key=f"{key}_card{len(self.cards)}" if
                                    (perspective, engine_id) in cell else None)
                spec = cell.get((perspective, engine_id))
                if spec is not None:
                    self.cards[spec.branch_id] = self._card(box)

    def _rows(self, branches: list[BranchSpec]) -> None:
        engine_ids = list(self.names)
        if self.mode == "review" and engine_ids:
            st.markdown(f"Engine: **{md_escape(self.names[engine_ids[0]])}**", help=f"Engine `{engine_ids[0]}`")
        per_row = max(1, min(len(branches), PER_ROW))
        for start in range(0, len(branches), per_row):
            for column, spec in zip(st.columns(per_row), branches[start:start + per_row], strict=False):
                box = column.container(border=True, key=f"{self.key}_card{len(self.cards)}")
                if self.mode == "translate":
                    box.markdown(f"**{md_escape(self.names[spec.engine])}**", help=f"Engine `{spec.engine}`")
                else:
                    box.markdown(f"**{md_escape(spec.perspective)}**")
                self.cards[spec.branch_id] = self._card(box)

    def queued(self) -> None:
        for card in self.cards.values():
            self.badge(card, BADGES["queued"])
            card.body.caption("Waiting to start…")

    def waiting(self, branch_id: str, badge: str, note: str) -> None:
        """Queued for a slot on a limited engine, or waiting while the SDK retries: not streaming."""
        card = self.cards[branch_id]
        self.badge(card, f":orange-badge[{badge}]")
        card.body.caption(note)
        card.text_slot = None
        card.drawn_at, card.dirty, card.live = time.monotonic(), False, False

    @staticmethod
    def badge(card: Card, badge: str) -> None:
        if card.badge_shown != badge:
            card.badge.markdown(badge)
            card.badge_shown = badge

    def streaming(self, branch_id: str, text: str) -> None:
        card = self.cards[branch_id]
        now = time.monotonic()
        if card.started_at is None:
            card.started_at = now
        if text and card.first_text_at is None:
            card.first_text_at = now
        self.badge(card, BADGES["streaming"])
        noted = branch_id in self.whole and not text
        line = None
        if now - card.meta_at >= META_REDRAW_S or not card.live:
            line, card.meta_at = live_line(text, card.started_at, card.first_text_at, now), now
        if card.text_slot is None or card.noted != noted:
            # A box of fixed height that keeps to its bottom as the text grows (the card follows the newest line),
            # or a note, and the counters under it.
            self.boxes += 1
            card.text_slot, card.noted = f"pl-{self.key}-{self.boxes}", noted
            top = (LIVE_NOTE.format(text="This engine does not stream: its translation appears whole when it is done.")
                   if noted else LIVE_BOX.format(height=LIVE_HEIGHT, id=card.text_slot, text=escape(self._shown(text))))
            line = line or live_line(text, card.started_at, card.first_text_at, now)
            card.body.html(top + LIVE_COUNTERS.format(id=f"{card.text_slot}-n", help=escape(COUNTERS_HELP),
                                                      text=escape(line)))
        else:
            if not noted:
                self.pending[card.text_slot] = self._shown(text)
            if line is not None:
                self.pending[f"{card.text_slot}-n"] = line
        card.drawn_at, card.dirty, card.live = now, False, True

    @staticmethod
    def _shown(text: str) -> str:
        return tail(readable(text)) if text else "…"

    def flush(self) -> None:
        """Send what changed in the live cards since the last flush, all at once (LIVE_JS): one update a tick."""
        if self.pending:
            data = json.dumps(list(self.pending.items()), ensure_ascii=False).replace("<", "\\u003c")
            self.driver.html(LIVE_JS.replace("DATA", data), unsafe_allow_javascript=True)
            self.pending = {}

    def live_tokens(self, outcome: RunOutcome) -> tuple[int, bool]:
        """Tokens out so far across the run: exact for finished branches that report them, estimated from the
        text for the others (then the second value is True)."""
        total, estimated = 0, False
        for branch_id in self.cards:
            result = outcome.results.get(branch_id)
            if result is not None and result.output_tokens is not None:
                total += result.output_tokens
            else:
                text = result.text if result is not None else outcome.texts.get(branch_id, "")
                if text:
                    total, estimated = total + live_tokens(text), True
        return total, estimated

    def done(self, r: BranchResult) -> None:
        """A branch finished while the board is live: its badge says so at once; its body (score, summary, prompt
        and reply: what costs the browser most) is drawn with finished() a tick later (live.run_events). Drawn
        together, a run's last cards — most of them, with simulated engines — read "streaming" over their final
        text for a few hundred ms while the browser drew their bodies."""
        card = self.cards[r.branch_id]
        self.badge(card, BADGES[r.status])
        card.dirty = card.live = False
        self.ended[r.branch_id] = r

    def finished(self, r: BranchResult, exchange_key: str | None = None) -> None:
        card = self.cards[r.branch_id]
        self.badge(card, BADGES[r.status])
        card.text_slot = None
        with card.body.container():
            finished_body(r, self.mode, exchange_key)
        card.meta.caption(metrics_line(r))
        card.dirty = card.live = False

    def show(self, outcome: RunOutcome) -> None:
        """Draw a finished (or stored) run without streaming."""
        for n, spec in enumerate(outcome.branches):
            result = outcome.results.get(spec.branch_id)
            if result is not None:  # its prompt and reply drawn when asked for
                self.finished(result, exchange_key=f"{self.key}_exchange_{outcome.run_id}_{n}")
