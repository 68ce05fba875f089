"""History: every run kept as it happened — search, reopen, compare, re-export, retry what failed, delete."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from components import compare, live, phone, results, votes
from components.names import display_names
from components.safe import md_code, md_escape
from components.settings import history_store, session_config
from parallax.documents import InputError
from parallax.results import RUN_STATUSES
from parallax.run.execute import RunOutcome
from parallax.storage import StorageError
from parallax.storage.history import outcome_from_record, retry_failed, retry_label, to_retry

ALL = "All"


def local_time(stamp: str) -> str:
    """A stored UTC time in the browser's time zone (UTC when the browser does not say)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        when = datetime.fromisoformat(stamp)
        zone = ZoneInfo(st.context.timezone or "UTC")
    except (ValueError, ZoneInfoNotFoundError):
        return stamp[:19].replace("T", " ")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """The runs with friendly headers: when (local time), what, how it went, on which engines (short names)."""
    table = pd.DataFrame([{
        f"started ({st.context.timezone or 'UTC'})": local_time(r["created_at"]), "mode": r["mode"],
        "status": r["status"], "review score (0–10)": r["review_score"],
        "translation score (0–100)": r["translation_score"],
        "succeeded": "—" if r["n_ok"] is None else f"{r['n_ok']} of {r['n_total']}",
        "engines": ", ".join(display_names(r["engines"].split(", ")).values()) if r["engines"] else "—",
        "text": r["text"], "run": r["run_id"]} for r in runs])
    for column in ("review score (0–10)", "translation score (0–100)"):
        table[column] = table[column].astype("float64")
    return table


st.title("History")
st.caption("Every run is saved as it happens — each branch the moment it finishes — so a refresh, a crash or a "
           "provider outage never costs a result you already paid for.")
store = history_store(now=st.session_state.pop("history_try_now", False))
if store is None:
    st.error("The history cannot be reached. Set PARALLAX_DATABASE_URL to a reachable database (SQLite file or "
             "postgresql+psycopg://…); Parallax tries again by itself.", icon=":material/cloud_off:")
    st.text(st.session_state.get("history_error") or "")
    unsaved = len(st.session_state.get("unsaved_runs") or [])
    if unsaved:
        st.info(f"{unsaved} run(s) finished while it was unreachable: they are kept in this browser session and "
                "saved as soon as the history is back.")
    st.button("Try again now", key="history_retry_db",
              on_click=lambda: st.session_state.__setitem__("history_try_now", True))
    st.stop()
assert store is not None  # (not isinstance: a module reloaded after an edit makes another Store class)

a, b, c, d, e, f, g = st.columns([1, 1, 1.6, 1.6, 1.2, 1, 1])
mode = a.selectbox("Mode", [ALL, "review", "translate"], key="history_mode")
status = b.selectbox("Status", [ALL, *RUN_STATUSES], key="history_status")
search = c.text_input("Text contains", key="history_search")
engine = d.text_input("Engine", key="history_engine", placeholder="e.g. openai:gpt-4o-mini")
since = e.date_input("Since", value=None, key="history_since")
min_review = f.number_input("Review score ≥", min_value=0.0, max_value=10.0, value=None, key="history_min_review",
                            help="Reviews score 0–10; setting this shows review runs only.")
min_translation = g.number_input("Translation ≥", min_value=0.0, max_value=100.0, value=None,
                                 key="history_min_translation",
                                 help="Translations score 0–100; setting this shows translation runs only.")
runs = store.list_runs(None if mode == ALL else mode, None if status == ALL else status, search or None,
                       engine or None, since.isoformat() if isinstance(since, date) else None, min_review,
                       min_translation)
if not runs:
    st.info("No run matches. Runs from the Review and Translate pages and from the command line appear here.")
    st.stop()


st.dataframe(runs_table(runs).style.format(precision=2, na_rep="—", subset=["review score (0–10)",
                                                                           "translation score (0–100)"]),
             hide_index=True, width="stretch", placeholder="—", column_config={"run": st.column_config.TextColumn(
                 help="The run's id: its address is /history?run=ID")})

labels = {r["run_id"]: f"{local_time(r['created_at'])} · {r['mode']} · {r['status']} · {r['text'][:40]}"
          for r in runs}
run_tab, compare_tab = st.tabs(["Open a run", "Compare two runs"])

with run_tab:
    wanted = st.query_params.get("run")
    if wanted and wanted != st.session_state.get("history_linked"):  # a link to one run: open it, once
        st.session_state["history_linked"] = wanted
        if wanted in labels:
            st.session_state["history_run"] = wanted
        else:
            st.warning(f"Run {md_code(wanted)} is not in this list: it was deleted, or the filters hide it.")
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="history_run")
    st.query_params["run"] = run_id  # the address opens this run
    record = store.load_run(run_id)
    outcome = outcome_from_record(record)
    failed, rejudge = to_retry(outcome, record)
    if message := st.session_state.pop("history_retried", None):
        st.success(message)
    st.caption(f"Run `{record.run_id}` · {record.mode} · **{record.status}** · started {local_time(record.created_at)}")
    if record.status == "running":
        # Going on in another tab, or ending after a refresh: shown as it is, and drawn again until it ends.
        st.info(f"This run is still going: {len(record.results)} of {len(record.branches)} branches have finished. "
                "This view updates until it ends.")
        live.rerun_soon(1.0)
    with st.expander("The text of this run"):
        st.text(record.input_text)
    retry_col, edit_col, delete_col, confirm_col = st.columns([2, 1.4, 1, 2], vertical_alignment="center")
    if record.mode in ("review", "translate") and edit_col.button(
            "Edit and rerun", key="history_edit", icon=":material/edit:",
            help=f"Open the {record.mode.title()} page with this run's text and settings in its form, to change "
                 "something and run it again."):
        # The page puts the run's inputs into its form before drawing it (`edit`), then shows the run below.
        st.switch_page(f"app_pages/{record.mode}.py", query_params={"run": run_id, "edit": "1"})
    if retry_col.button(f"Retry: {retry_label(failed, rejudge)}", disabled=not (failed or rejudge),
                        key="history_retry", icon=":material/replay:",
                        help="Only the branches that did not succeed are called again; a judge that failed judges "
                             "again."):
        # The retried branches stream into their cards as in a run; a click meanwhile stops the retry cleanly.
        retrying = [b for b in outcome.branches if b.branch_id in {r.branch_id for r in failed}]
        shown = RunOutcome(run_id, outcome.mode, outcome.reducer, retrying)
        progress = st.empty()
        board = live.Board(retrying, outcome.mode, key="history_retry_board")
        try:
            live.run_events(lambda emit: retry_failed(run_id, store, session_config(),
                                                      on_event=lambda event, _: emit(event)),
                            board, progress, shown)
            record = store.load_run(run_id)
            still, judge_left = to_retry(outcome_from_record(record), record)
            done = f"{len(failed) - len(still)} of {len(failed)} branch(es) now succeeded" if failed else ""
            judged = ("the judge still failed" if judge_left else "the judge judged again") if rejudge else ""
            # Drawn again from the top: the list, this button's count and the run's status all change.
            st.session_state["history_retried"] = f"Retried: {'; '.join(p for p in (done, judged) if p)}."
            live.wait_until_sent()  # as a run does: the last finished cards are seen "done" before the redraw
            st.rerun()
        except (InputError, StorageError) as exc:
            st.error(f"Cannot retry: {md_escape(str(exc))}")
    sure = confirm_col.checkbox("Yes, delete this run", key="history_sure")
    if delete_col.button("Delete", disabled=not sure, key="history_delete", icon=":material/delete:"):
        store.delete_run(run_id)
        st.session_state.pop("history_run", None)
        st.rerun()
    retried = {b: len(tries) for b, tries in record.attempts.items() if len(tries) > 1}
    if retried:
        st.caption("Attempts kept for each retried branch: "
                   + ", ".join(f"{md_escape(b)} × {n}" for b, n in retried.items()))
    layout = phone.finished_layout("history", "board")  # on a phone: the aggregate and summary first, cards short
    with layout.cards:
        live.Board(outcome.branches, outcome.mode).show(outcome)
    with layout.vote:
        votes.history_panel(outcome, store)
    results.finished_panels(outcome, "history", layout)

with compare_tab:
    compare.compare_section(store, runs, local_time)
