"""Branch cards that stream live, and the loop that feeds them from the core's events.

Only the script thread touches `st.*`: the graph runs on a private event loop in this thread,
branch events come through a queue, and cards are redrawn at most ~20 times a second each.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from parallax.engines.base import Engine
from parallax.estimate import TOKEN_METHOD, estimate_run, estimate_tokens, usd
from parallax.results import BranchResult, BranchSpec
from parallax.review.judgement import SCHEMA, readable
from parallax.run.events import (
    BranchFinished,
    BranchQueued,
    BranchRestarted,
    BranchRetrying,
    BranchStarted,
    ChunkFinished,
)
from parallax.run.execute import RunFinished, RunOutcome, stream_run
from parallax.run.failures import plural
from parallax.run.plan import RunPlan, plan_key
from parallax.translate.assess import Assessed
from parallax.translate.judge import MQM_SCHEMA, highlight

from .safe import md_code, md_escape
from .settings import history_store, keep_unsaved

log = logging.getLogger(__name__)
PER_ROW = 4
MIN_REDRAW_S = 0.05  # ~20 updates per second per card: every update resends the whole text
LIVE_HEIGHT = 220  # px: a live card's text box, kept scrolled to its newest line
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
    text_slot: Any = None  # the live text's slot inside its scrolling box (None until the box is drawn)
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


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


def metrics_line(r: BranchResult) -> str:
    tokens = "–" if r.output_tokens is None else f"{r.input_tokens or 0:,} in / {r.output_tokens:,} out"
    cost = "–" if r.cost_usd is None else usd(r.cost_usd)
    cached = f"{md_escape(r.cache_note())} · " if r.cached else ""
    queued = f" · queued {_seconds(r.queued_ms)}" if r.queued_ms and r.queued_ms >= 50 else ""
    mode = f" · structured output: {r.structured_mode}" if r.structured_mode else ""
    return (f"{cached}TTFT {_seconds(r.ttft_ms)} · latency {_seconds(r.latency_ms)} · tokens {tokens} · "
            f"cost {cost} · retries {r.retries}{queued}{mode}")


class Board:
    """One card per branch in declared order, at most four to a row; a matrix gets one row per perspective, as
    wide as its number of engines."""

    def __init__(self, branches: list[BranchSpec], mode: str = "review", engines: dict[str, Engine] | None = None
                 ) -> None:
        self.mode = mode
        # Engines that do not stream (DeepL, LibreTranslate) say so while the others stream.
        first = {b.branch_id: (engines or {}).get(b.engine.split("|")[0]) for b in branches}
        self.whole = {b for b, engine in first.items() if engine is not None and not engine.streams}
        self.cards: dict[str, Card] = {}
        engines = len({b.engine for b in branches})
        matrix = mode == "review" and len(branches) > engines  # several perspectives × several engines
        # A matrix keeps one row per perspective whatever the number of engines (cards narrow rather than spill
        # into the next perspective's row); otherwise at most PER_ROW cards to a row.
        per_row = engines if (matrix and engines > 1) or 2 <= engines <= PER_ROW else PER_ROW
        for start in range(0, len(branches), per_row):
            row = branches[start:start + per_row]
            for column, spec in zip(st.columns(per_row), row, strict=False):
                box = column.container(border=True)
                # A translation card is titled by its engine (options such as sim latency stay in the detail).
                title = spec.engine.split("?")[0] if mode == "translate" else spec.perspective
                box.markdown(f"**{md_escape(title)}**")
                if spec.engine != title:
                    box.text(spec.engine)
                self.cards[spec.branch_id] = Card(box.empty(), box.empty(), box.empty())

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
        if branch_id in self.whole and not text:
            card.body.caption("This engine does not stream: its translation appears whole when it is done.")
            card.text_slot = None
        else:
            if card.text_slot is None:
                # A box of fixed height that keeps to its bottom as the text grows: the card follows the newest
                # line. Drawn once; each update then resends only the text inside it.
                card.text_slot = card.body.container(height=LIVE_HEIGHT, border=False, autoscroll=True).empty()
            card.text_slot.code(tail(readable(text)) if text else "…", language=None, wrap_lines=True)
        if now - card.meta_at >= META_REDRAW_S or not card.live:
            card.meta.caption(live_line(text, card.started_at, card.first_text_at, now), help=(
                f"While a branch streams its tokens are {TOKEN_METHOD}; its result has the exact count."))
            card.meta_at = now
        card.drawn_at, card.dirty, card.live = now, False, True

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

    def finished(self, r: BranchResult) -> None:
        card = self.cards[r.branch_id]
        self.badge(card, BADGES[r.status])
        card.text_slot = None
        with card.body.container():
            if self.mode == "translate" and r.status == "ok":
                translation_body(r)
            elif r.status == "ok" and r.score is not None:
                st.markdown(f"### {r.score:g} / 10")
                st.caption(score_caption(r))
                with st.container(height=160, border=False):  # cards stay aligned, long summaries scroll
                    st.markdown(md_escape(r.summary))
                if r.issues:
                    st.caption(f"{len(r.issues)} issue(s) — see the consolidated list below")
                if r.chunks > 1:
                    st.caption(f"Reviewed in {plural(r.chunks, 'chunk')}; score weighted by chunk length")
            else:
                st.error(md_escape(r.error or r.status))
                if r.text:
                    st.caption("Partial text kept:")
                    st.code(readable(r.text), language=None, wrap_lines=True, height=160)
            if r.exchange:
                with st.expander("Prompt and raw reply"):
                    exchange_view(r.exchange, r.text, r.structured_mode)
        card.meta.caption(metrics_line(r))
        card.dirty = card.live = False

    def show(self, outcome: RunOutcome) -> None:
        """Draw a finished (or stored) run without streaming."""
        for spec in outcome.branches:
            result = outcome.results.get(spec.branch_id)
            if result is not None:
                self.finished(result)


SEVERITY_COLOURS = {"critical": "red", "major": "orange", "minor": "yellow"}


def marked_translation(r: BranchResult) -> str:
    """The translation as markdown, the judge's error spans highlighted by severity (text escaped)."""
    parts = []
    for segment, severity in highlight(r.text, r.issues):
        escaped = md_escape(segment)
        parts.append(f":{SEVERITY_COLOURS[severity]}-background[{escaped}]" if severity else escaped)
    return "".join(parts)


def exchange_view(exchange: dict[str, Any], raw: str, structured_mode: str | None = None) -> None:
    """What was sent and what came back, as plain text (st.code renders nothing: no link, no markdown)."""
    if exchange.get("note"):
        st.caption(md_escape(exchange["note"]))
    st.caption(f"Engine {md_code(exchange.get('engine', ''))}"
               + (f" · structured output: {structured_mode}" if structured_mode else "")
               + (f" · schema `{exchange['schema_name']}`" if exchange.get("schema_name") else ""))
    st.markdown("**System**")
    st.code(exchange.get("system", ""), language=None, wrap_lines=True)
    for message in exchange.get("messages", []):
        st.markdown(f"**{md_escape(message['role'].title())}**")
        st.code(message["content"], language=None, wrap_lines=True, height=min(400, 60 + 18 * message[
            "content"].count("\n")))
    schema = {"judgement": SCHEMA, "mqm_judgement": MQM_SCHEMA}.get(exchange.get("schema_name") or "")
    if schema:
        st.markdown("**Schema asked for**")
        st.json(schema, expanded=False)
    if exchange.get("reask"):
        st.markdown(f"**Re-asked once**: {md_escape(exchange['reask']['reason'])}. The first reply:")
        st.code(exchange["reask"]["first_reply"] or "(empty)", language=None, wrap_lines=True)
    st.markdown("**Raw reply**" + (" (the second one)" if exchange.get("reask") else ""))
    st.code(raw or "(empty)", language=None, wrap_lines=True)


def score_caption(r: BranchResult) -> str:
    """What the score is: how many samples, their standard deviation and 95% interval; the model's own
    confidence for a review."""
    found = r.estimate
    parts = []
    if found is not None and found.n > 1:
        fresh = " judge" if r.judge_score is not None else ""
        parts.append(f"mean of {found.n}{fresh} samples (all fresh calls), sd {found.sd:g}"
                     + (f", {found.interval}" if found.interval else ", too few for an interval"))
    if r.confidence is not None:
        parts.append(f"model's confidence {r.confidence:.0%}")
    return " · ".join(parts)


def translation_body(r: BranchResult) -> None:
    if r.non_translation:
        st.markdown(f":red-badge[not a translation: {md_escape(r.non_translation)}]")
    if r.judge_score is not None:
        st.markdown(f"### {r.judge_score:g} / 100")
        st.caption(score_caption(r))
    if r.judge_error:
        st.caption(f"Not judged: {md_escape(r.judge_error)}" if r.judge_score is None
                   else md_escape(r.judge_error))
    with st.container(height=160, border=False):
        st.markdown(marked_translation(r))
    facts = []
    if r.agreement is not None:
        facts.append(f"agreement {r.agreement:g}" + (" — :orange[outlier]" if r.outlier else ""))
    if r.answered_by and r.answered_by != r.engine:
        facts.append(f"answered by {md_escape(r.answered_by)} after {len(r.fallbacks)} failure(s)")
    if r.glossary:
        used = sum(r.glossary.values())
        facts.append(f"glossary {used}/{len(r.glossary)}")
    if r.chrf_reference is not None:
        facts.append(f"vs reference: chrF {r.chrf_reference:g}, BLEU {r.bleu_reference:g}")
    if facts:
        st.caption(" · ".join(facts))


_DONE = object()


async def _pump(plan: RunPlan, queue: asyncio.Queue[Any]) -> None:
    try:
        async for event in stream_run(plan):
            queue.put_nowait(event)
    except Exception as exc:  # noqa: BLE001 - shown on the page, never as a traceback
        queue.put_nowait(exc)
    queue.put_nowait(_DONE)


async def _next_batch(queue: asyncio.Queue[Any], wait_s: float) -> list[Any]:
    try:
        batch = [await asyncio.wait_for(queue.get(), wait_s)]
    except TimeoutError:
        return []
    while not queue.empty():
        batch.append(queue.get_nowait())
    return batch


def run_live(plan: RunPlan, board: Board, progress: Any, outcome: RunOutcome) -> None:
    """Stream the run into the board. If the script is interrupted (Stop, any other click, a closed tab),
    the `finally` closes the stream: every in-flight provider call is cancelled, finished branches stay."""
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    pump = loop.create_task(_pump(plan, queue))
    started = time.monotonic()
    board.queued()
    complete = False
    try:
        while not complete:
            # Wake at least every 100 ms: each redraw is also where Streamlit can stop this script.
            for event in loop.run_until_complete(_next_batch(queue, 0.1)):
                if event is _DONE:
                    complete = True
                    continue
                if isinstance(event, Exception):
                    raise event
                outcome.apply(event)
                if isinstance(event, BranchFinished):
                    board.finished(event.result)
                elif isinstance(event, ChunkFinished):
                    card = board.cards[event.branch_id]
                    Board.badge(card, BADGES["streaming"])
                    card.live, card.text_slot = False, None  # the caption stays until the next chunk's text
                    card.body.caption(f"Long document: {outcome.chunks_done[event.branch_id]} of {event.of} "
                                      "chunks reviewed…")
                elif isinstance(event, Assessed):
                    for result in event.results:
                        board.finished(result)
                elif isinstance(event, BranchStarted | BranchRestarted):
                    board.streaming(event.branch_id, outcome.texts.get(event.branch_id, ""))
                elif isinstance(event, BranchQueued):
                    board.waiting(event.branch_id, "queued", f"Waiting for a free slot: {event.engine} takes "
                                  f"{event.limit} call(s) at a time. Its deadline starts when its call does.")
                elif isinstance(event, BranchRetrying):
                    board.waiting(event.branch_id, f"waiting for the server (retry {event.retry})",
                                  "The server asked us to wait (rate limit or a passing error); asking again…")
                elif not isinstance(event, RunFinished):
                    board.cards[event.branch_id].dirty = True
            now = time.monotonic()
            for branch_id, card in board.cards.items():
                # New text at most every MIN_REDRAW_S; a card waiting for its next token still counts its seconds.
                due = now - card.drawn_at >= (MIN_REDRAW_S if card.dirty else 1.0)
                if (card.dirty or card.live) and due and branch_id not in outcome.results:
                    board.streaming(branch_id, outcome.texts.get(branch_id, ""))
            done, total = len(outcome.results), len(outcome.branches)
            tokens, estimated = board.live_tokens(outcome)
            label = (f"{done} of {total} branches finished · {'~' if estimated else ''}{tokens:,} tokens out · "
                     f"{now - started:.1f} s")
            if done == total and not complete and outcome.mode == "translate":
                label = f"All translations done · comparing and judging · {now - started:.1f} s"
            progress.progress(done / total, text=label)
    finally:
        if not complete:
            outcome.cancel_unfinished()  # first: what the user sees must not depend on the cleanup below
        try:
            if not pump.done():
                pump.cancel()  # closes the graph's stream: every in-flight provider call is cancelled
                loop.run_until_complete(asyncio.gather(pump, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:  # noqa: BLE001 - never let cleanup hide the interruption that brought us here
            log.exception("cleaning up a stopped run failed")
        finally:
            loop.close()


def rerun_soon(delay_s: float = 0.3) -> None:
    """Ask this session for one rerun shortly, from another thread: after a Stop every `st` call of the current
    run raises, so only the next run can draw; a run going on elsewhere is polled this way. Streamlit's run-on-save
    does the same (its own client state, so the same page reruns). Nothing happens when the tab is gone."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    session_id = ctx.session_id

    def rerun() -> None:
        from streamlit import runtime

        if not runtime.exists():
            return
        info = runtime.get_instance()._session_mgr.get_active_session_info(session_id)  # noqa: SLF001
        if info is not None:
            info.session.request_rerun(info.session._client_state)  # noqa: SLF001

    threading.Timer(delay_s, rerun).start()


def run_section(prefix: str, plan: RunPlan | None, problem: str | None) -> RunOutcome | None:
    """Estimate, Run and Stop, the live board while it runs, and the stored run on every rerun after."""
    if plan is not None:
        estimate = estimate_run(plan)
        cost = ("free (offline and simulated engines)" if estimate.cost_usd == 0
                else f"estimated ${estimate.cost_usd:.4f}" if estimate.cost_usd is not None
                else f"cost unknown: no price for {', '.join(estimate.unpriced)}")
        st.caption(f"**{plural(estimate.branches, 'branch')}** · about {estimate.input_tokens:,} input and "
                   f"{estimate.output_tokens:,} output tokens in all · {cost}")
    elif problem:
        st.error(md_escape(problem))
    run_col, stop_col, cache_col = st.columns([1, 1, 6], vertical_alignment="center")

    def start() -> None:
        st.session_state[f"{prefix}_start"] = True

    # The click that starts a run is known before Run is drawn (its callback ran first, once): while the run goes,
    # the button reads "Running…" and is disabled (a click on it would silently cancel the run and start another);
    # once the run has ended, the page is drawn again with Run enabled.
    clicked = bool(st.session_state.pop(f"{prefix}_start", False)) and plan is not None
    run_col.button("Running…" if clicked else "Run", type="primary", disabled=plan is None or clicked,
                   icon=":material/hourglass_top:" if clicked else ":material/play_arrow:", key=f"{prefix}_run",
                   on_click=start)
    stop_slot = stop_col.empty()
    use_cache = cache_col.toggle("Answer identical calls from the history (no new call, no cost)", value=True,
                                 key=f"{prefix}_cache")
    if clicked and plan is not None:
        outcome = RunOutcome.for_plan(plan)
        st.session_state[f"{prefix}_outcome"] = outcome  # stored first: a Stop or a closed tab keeps what finished
        st.session_state[f"{prefix}_input"] = plan_key(plan)
        st.session_state.pop(f"{prefix}_linked", None)
        # Every run has its address from the start: a refresh mid-run comes back to it, and it can be shared.
        st.query_params["run"] = outcome.run_id
        from parallax.storage.history import record

        record(plan, outcome, history_store(), use_cache)
        if outcome.storage_warning and st.session_state.get("history_error"):
            outcome.storage_warning += f" ({st.session_state['history_error']})"
        # Any click reruns the script, which ends the run (cleanly, in run_live's `finally`): Stop needs no callback.
        stop_slot.button("Stop", icon=":material/stop:", key=f"{prefix}_stop")
        progress = st.empty()
        board = Board(plan.branches, plan.mode, plan.engines)
        try:
            run_live(plan, board, progress, outcome)
        except StopException:
            # Streamlit's own Stop (the header's): the run has ended cleanly in run_live, but this script run can
            # draw nothing more — not even write the session state. One rerun, once it has ended, shows the
            # cancelled branches and the aggregate.
            rerun_soon()
            raise
        except Exception as exc:  # noqa: BLE001 - a message, not a traceback
            st.session_state[f"{prefix}_run_error"] = f"The run stopped unexpectedly: {md_escape(str(exc))}"
        if outcome.storage_warning:
            keep_unsaved(plan, outcome)
            outcome.storage_warning += (" — kept in this session: it is saved as soon as the history is reachable "
                                        "again.")
        st.rerun()  # the page again, Run enabled, the run drawn from the session
    stored = linked_run(prefix) or st.session_state.get(f"{prefix}_outcome")
    if st.session_state.get(f"{prefix}_run_error"):
        st.error(st.session_state.pop(f"{prefix}_run_error"))
    if stored is not None:
        cancelled = sum(r.status == "cancelled" for r in stored.results.values())
        if st.session_state.get(f"{prefix}_linked") == stored.run_id:
            st.info(f"Run `{stored.run_id}`, opened from its address. The inputs above are this page's, not the "
                    "run's: press Run to start a new one.", icon=":material/link:")
        elif cancelled:  # our Stop, the header's Stop, or any click during the run
            st.info(f"Stopped: {cancelled} branch(es) cancelled, no call is still running. Finished branches are kept.")
        if st.session_state.get(f"{prefix}_linked") != stored.run_id and (
                plan is None or st.session_state.get(f"{prefix}_input") != plan_key(plan)):
            st.warning("These results are for the previous input: the text, perspectives, engines or settings "
                       "changed since. Press Run to update them.", icon=":material/update:")
        Board(stored.branches, stored.mode).show(stored)
    return stored


def run_link(mode: str, run_id: str) -> str:
    """The address that opens a run in its own view (Review is the app's default page, at /)."""
    return f"/{'' if mode == 'review' else mode}?run={run_id}"


def linked_run(prefix: str) -> RunOutcome | None:
    """The run named by `?run=ID`, when it is not the one this session already shows: a shared link, or this
    page again after a refresh or a closed tab (then the run was cut short, and the page says so)."""
    run_id = st.query_params.get("run")
    current: RunOutcome | None = st.session_state.get(f"{prefix}_outcome")
    if not run_id or (current is not None and current.run_id == run_id):
        return None
    store = history_store()
    if store is None:
        st.warning(f"Run {md_code(run_id)} cannot be opened: the history is unreachable.")
        return None
    from parallax.storage import StorageError
    from parallax.storage.history import outcome_from_record

    try:
        record = store.load_run(run_id)
    except StorageError:
        st.warning(f"There is no run {md_code(run_id)} in the history: the link is wrong or the run was "
                   "deleted.", icon=":material/link_off:")
        return None
    if record.mode != prefix:
        page = "Translate" if record.mode == "translate" else "Review"
        st.info(f"Run `{record.run_id}` is a {record.mode} run: [open it on the {page} page]"
                f"({run_link(record.mode, record.run_id)}).", icon=":material/link:")
        return None
    outcome = outcome_from_record(record)
    if record.status in ("running", "interrupted"):
        done = sum(r.status == "ok" for r in record.results.values())
        st.warning(f"Your last run was interrupted (a refresh or a closed tab): {done} of {len(record.branches)} "
                   f"branch(es) had finished, and they are kept. [Open it in History](/history?run={record.run_id})"
                   " to retry the rest.", icon=":material/history:")
    st.session_state[f"{prefix}_outcome"] = outcome
    st.session_state[f"{prefix}_linked"] = run_id
    return outcome
