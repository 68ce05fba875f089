"""Branch cards that stream live, and the loop that feeds them from the core's events.

Only the script thread touches `st.*`: the graph runs on a private event loop in this thread, branch events come
through a queue, and the board is redrawn on a clock: every TICK_S, the new text of every card at once, in one update
(grid.LIVE_JS); the run bar every COUNTERS_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from parallax.estimate import estimate_run
from parallax.run.events import (
    Assessed,
    BranchFinished,
    BranchQueued,
    BranchRestarted,
    BranchRetrying,
    BranchStarted,
    ChunkFinished,
)
from parallax.run.execute import RunOutcome, stream_run
from parallax.run.failures import plural
from parallax.run.plan import RunPlan, plan_key

# What other views use of a card, from where it lives now (grid: the board; cards: a finished card's parts).
from .cards import exchange_view, marked_translation, metrics_line, score_caption, translation_body  # noqa: F401
from .grid import BADGES, Board, Card, live_line, live_tokens, tail  # noqa: F401
from .phone import Finished, finished_layout
from .reopen import request_edit
from .safe import md_code, md_escape
from .settings import history_store, keep_unsaved

log = logging.getLogger(__name__)
# The board's clock. A card's new text is drawn at most every TICK_S (~12 times a second: faster than a reader
# notices, and every live card at once). Drawing each card as its tokens came (up to 20 times a second each, the run
# bar on every event) sent a 12-branch run's browser 550 updates a second and froze it for seconds at a time.
TICK_S = 0.08
COUNTERS_S = 0.25  # the run bar (finished branches, tokens out, seconds) at most four times a second


_DONE = object()


# What feeds a board: a coroutine that hands each event to `emit` as it happens (a run's stream, or a retry).
Events = Callable[[Callable[[Any], None]], Awaitable[Any]]


def plan_events(plan: RunPlan) -> Events:
    async def events(emit: Callable[[Any], None]) -> None:
        async for event in stream_run(plan):
            emit(event)

    return events


async def _pump(events: Events, queue: asyncio.Queue[Any], ended: asyncio.Event) -> None:
    try:
        await events(queue.put_nowait)
    except Exception as exc:  # noqa: BLE001 - shown on the page, never as a traceback
        queue.put_nowait(exc)
    queue.put_nowait(_DONE)
    ended.set()


async def _next_batch(queue: asyncio.Queue[Any], ended: asyncio.Event, wait_s: float) -> list[Any]:
    """Every event that came within `wait_s` (the stream runs meanwhile), or at once when the stream has ended."""
    if wait_s > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), wait_s)
    batch = []
    while not queue.empty():
        batch.append(queue.get_nowait())
    return batch


def run_live(plan: RunPlan, board: Board, progress: Any, outcome: RunOutcome) -> None:
    """Stream the run into the board (see run_events)."""
    run_events(plan_events(plan), board, progress, outcome)


def run_events(events: Events, board: Board, progress: Any, outcome: RunOutcome) -> None:
    """Stream events into the board, the progress bar counting finished branches and tokens. If the script is
    interrupted (Stop, any other click, a closed tab), the `finally` closes the stream: every in-flight provider
    call is cancelled, finished branches stay. The branches that finish in the last two ticks get their "done" badge,
    not their body: the caller draws the finished run again at once (a rerun); drawing them here too cost the browser
    the same work twice, and the server's sending of the badges waited on it (0.3 s at 32 cards)."""
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    ended = asyncio.Event()
    pump = loop.create_task(_pump(events, queue, ended))
    started = drawn = time.monotonic()
    counted, finished = 0.0, -1
    board.queued()
    complete = False
    try:
        while not complete:
            # One tick: each redraw is also where Streamlit can stop this script.
            batch = loop.run_until_complete(_next_batch(queue, ended, drawn + TICK_S - time.monotonic()))
            bodies, board.ended = board.ended, {}  # of the branches that finished in the last tick (Board.done)
            for event in batch:
                if event is _DONE:
                    complete = True
                    continue
                if isinstance(event, Exception):
                    raise event
                outcome.apply(event)
                if isinstance(event, Assessed):
                    for result in event.results:
                        if result.branch_id in board.cards:
                            board.done(result)
                elif isinstance(event, BranchFinished):
                    if event.result.branch_id in board.cards:
                        board.done(event.result)
                elif getattr(event, "branch_id", None) not in board.cards:
                    continue  # RunFinished, or a branch this board does not show
                elif isinstance(event, ChunkFinished):
                    card = board.cards[event.branch_id]
                    Board.badge(card, BADGES["streaming"])
                    card.live, card.text_slot = False, None  # the caption stays until the next chunk's text
                    card.body.caption(f"Long document: {outcome.chunks_done[event.branch_id]} of {event.of} "
                                      "chunks reviewed…")
                elif isinstance(event, BranchStarted | BranchRestarted):
                    board.streaming(event.branch_id, outcome.texts.get(event.branch_id, ""))
                elif isinstance(event, BranchQueued):
                    board.waiting(event.branch_id, "queued", f"Waiting for a free slot: {event.engine} takes "
                                  f"{event.limit} call(s) at a time. Its deadline starts when its call does.")
                elif isinstance(event, BranchRetrying):
                    board.waiting(event.branch_id, f"waiting for the server (retry {event.retry})",
                                  "The server asked us to wait (rate limit or a passing error); asking again…")
                else:
                    board.cards[event.branch_id].dirty = True
            drawn = now = time.monotonic()
            for branch_id, card in board.cards.items():
                # New text on every tick; a card waiting for its next token still counts its seconds.
                due = card.dirty or now - card.drawn_at >= 1.0
                if (card.dirty or card.live) and due and branch_id not in outcome.results:
                    board.streaming(branch_id, outcome.texts.get(branch_id, ""))
            board.flush()  # every card's new text in one update
            for branch_id, result in bodies.items() if not complete else ():  # the caller draws the run again
                if branch_id not in board.ended:  # finished again in this tick (judged): its newest body next tick
                    board.finished(result)
            done, total = len(outcome.results), len(outcome.branches)
            if now - counted < COUNTERS_S and done == finished and not complete:
                continue
            counted, finished = now, done
            tokens, estimated = board.live_tokens(outcome)
            label = (f"{done} of {total} branches finished · {'~' if estimated else ''}{tokens:,} tokens out · "
                     f"{now - started:.1f} s")
            if done == total and not complete and outcome.mode == "translate":
                label = f"All translations done · comparing and judging · {now - started:.1f} s"
            progress.progress(done / total if total else 1.0, text=label)
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


def wait_until_sent(timeout_s: float = 0.5) -> None:
    """Let the server send what this script run has drawn, before a rerun: the next run starts by clearing whatever
    is still queued for the browser (Streamlit's AppSession), and the cards of a run's last tick (its last finished
    branches) were never seen — they read "streaming" until the rerun drew the board again, up to 1.3 s later on a
    loaded machine (bench/page_stream.py). At most `timeout_s`; nothing to wait for without a server (AppTest)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    from streamlit import runtime
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    manager = getattr(runtime.get_instance(), "_session_mgr", None) if runtime.exists() else None  # AppTest: none
    info = manager.get_active_session_info(ctx.session_id) if manager is not None else None
    queued = getattr(getattr(info, "session", None), "_browser_queue", None)
    if not isinstance(queued, ForwardMsgQueue):
        return
    deadline = time.monotonic() + timeout_s
    while not queued.is_empty() and time.monotonic() < deadline:
        time.sleep(0.01)


def run_section(prefix: str, plan: RunPlan | None, problem: str | None, controls: Any = None,
                panels: Callable[[RunOutcome, str, Finished], None] | None = None) -> RunOutcome | None:
    """Estimate, Run and Stop (in `controls`, e.g. right under the text, so Run is on the first screen), the live
    board while it runs (brought into view), and the stored run on every rerun after: its cards, then what
    `panels` draws of a run with results (its vote, aggregate and charts) in the layout's other parts — on a phone
    the aggregate and the per-engine table come first and the cards are collapsed (components/phone.py)."""
    where = controls if controls is not None else st.container()
    if plan is not None:
        estimate = estimate_run(plan)
        cost = ("free (offline and simulated engines)" if estimate.cost_usd == 0
                else f"estimated ${estimate.cost_usd:.4f}" if estimate.cost_usd is not None
                else f"cost unknown: no price for {', '.join(estimate.unpriced)}")
        where.caption(f"**{plural(estimate.branches, 'branch')}** · about {estimate.input_tokens:,} input and "
                      f"{estimate.output_tokens:,} output tokens in all · {cost}")
    elif problem:
        where.error(md_escape(problem))
    buttons = where.container(horizontal=True, vertical_alignment="center", gap="small")

    def start() -> None:
        st.session_state[f"{prefix}_start"] = True

    # The click that starts a run is known before Run is drawn (its callback ran first, once): while the run goes,
    # the button reads "Running…" and is disabled (a click on it would silently cancel the run and start another);
    # once the run has ended, the page is drawn again with Run enabled.
    clicked = bool(st.session_state.pop(f"{prefix}_start", False)) and plan is not None
    buttons.button("Running…" if clicked else "Run", type="primary", disabled=plan is None or clicked,
                   icon=":material/hourglass_top:" if clicked else ":material/play_arrow:", key=f"{prefix}_run",
                   on_click=start)
    stop_slot = buttons.empty()
    use_cache = where.toggle("Answer identical calls from the history (no new call, no cost)", value=True,
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
        running = st.container(key=f"{prefix}_running")
        progress = running.empty()
        with running:
            board = Board(plan.branches, plan.mode, plan.engines, key=f"{prefix}_live")
        scroll_into_view(f"{prefix}_running")
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
        wait_until_sent()
        st.rerun()  # the page again, Run enabled, the run drawn from the session
    stored = linked_run(prefix) or st.session_state.get(f"{prefix}_outcome")
    if st.session_state.get(f"{prefix}_run_error"):
        st.error(st.session_state.pop(f"{prefix}_run_error"))
    if stored is not None:
        cancelled = sum(r.status == "cancelled" for r in stored.results.values())
        linked = st.session_state.get(f"{prefix}_linked") == stored.run_id
        restored = st.session_state.get(f"{prefix}_inputs_of") == stored.run_id  # its inputs are in the form
        for note in (st.session_state.get(f"{prefix}_restore_notes") or []) if restored else []:
            st.warning(note, icon=":material/edit_note:")
        # A run opened from its address, its inputs not in the form, is not "the previous input" of this form.
        changed = (not restored if plan is None else st.session_state.get(f"{prefix}_input") != plan_key(plan))
        if restored and not changed:
            st.info(f"Run `{stored.run_id}`{', opened from its address,' if linked else ''} with its inputs above: "
                    "change any of them and press Run to start a new run.", icon=":material/link:")
        elif linked and not restored:
            st.info(f"Run `{stored.run_id}`, opened from its address. The inputs above are this page's, not the "
                    "run's: press Run to start a new one, or Edit and rerun to put the run's inputs above.",
                    icon=":material/link:")
            st.button("Edit and rerun", key=f"{prefix}_edit_run", icon=":material/edit:", on_click=request_edit,
                      args=(prefix, stored.run_id), help="Put this run's text and settings in the form above, "
                                                         "to change something and run it again.")
        elif cancelled:  # our Stop, the header's Stop, or any click during the run
            st.info(f"Stopped: {cancelled} branch(es) cancelled, no call is still running. Finished branches are kept.")
        if (restored or not linked) and changed:
            st.warning("These results are for the previous input: the text, perspectives, engines or settings "
                       "changed since. Press Run to update them.", icon=":material/update:")
        layout = finished_layout(prefix, f"{prefix}_board")
        with layout.cards:
            Board(stored.branches, stored.mode, key=f"{prefix}_board").show(stored)
        if panels is not None and stored.results:
            panels(stored, prefix, layout)
    return stored


def scroll_into_view(key: str) -> None:
    """Bring the container with this key to the top of the screen, once (a run's progress and its cards: Run sits
    high on the page, the cards start below the options)."""
    # Not a smooth scroll: the cards' first updates would cut it short. The margin keeps it clear of the header.
    st.html(f"<script>const el = document.querySelector('.st-key-{key}'); if (el) {{ el.style.scrollMarginTop = "
            "'5rem'; el.scrollIntoView({block: 'start'}); }</script>", unsafe_allow_javascript=True)


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
