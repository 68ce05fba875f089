"""Review: paste or upload a text, pick perspectives and engines, watch every branch stream, read one verdict."""

from __future__ import annotations

import streamlit as st

from components import live, pickers, results
from components.settings import session_config
from parallax.documents import InputError, decode_document
from parallax.estimate import estimate_run, estimate_tokens
from parallax.run import RunOutcome, RunPlan, plan_review

SAMPLE = """Acme Sync 4.0 — release notes

Acme Sync 4.0 is significantly faster and the new DFS engine makes uploads quicker. \
We guarantee 100% uptime for every customer, always.

What's new
- Start-up time drops from 4.1 s to 1.2 s on a typical laptop.
- Shared folders now sync in the background while you work.
- Admins can export audit logs as CSV.

Upgrading is free for all teams on a paid plan. By upgrading you waive any claim for data lost during migration. \
Questions? Write to jane.doe@acme-example.com or call +1 415-555-0199.

Upgrade today from the download page.
"""


def _load_upload() -> None:
    """Put an uploaded file's text into the text area, or explain why it cannot be read."""
    uploaded = st.session_state.get("review_upload")
    st.session_state["review_upload_error"] = None
    if uploaded is None:
        return
    try:
        st.session_state["review_text"] = decode_document(uploaded.getvalue(), uploaded.name)
    except InputError as exc:
        st.session_state["review_upload_error"] = str(exc)


def _stop() -> None:
    st.session_state["review_stopped"] = True


config = session_config()
st.title("Review")
st.caption("One text, several independent branches at once: every perspective × engine streams in its own card, "
           "then an explicit reducer merges them.")
if not config.configured_providers():
    st.info("No API key is configured, so Parallax runs on **Offline rules** (plain text checks, no AI) and the "
            "simulated **Demo** engines. To use OpenAI or Anthropic, add `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` "
            "to `.streamlit/secrets.toml`, or type a key in the sidebar.", icon=":material/key:")

left, right = st.columns([3, 2], gap="large")
with left:
    st.session_state.setdefault("review_text", SAMPLE)
    text = st.text_area("Text to review", key="review_text", height=300)
    st.file_uploader("…or upload a UTF-8 text file", type=["txt", "md"], key="review_upload", on_change=_load_upload)
    if st.session_state.get("review_upload_error"):
        st.error(st.session_state["review_upload_error"])
    st.caption(f"{len(text):,} characters · about {estimate_tokens(text):,} tokens")
with right:
    perspectives = pickers.perspective_picker(config, "review_perspectives")
    engines = pickers.engine_picker(config, "review_engines")
    with st.expander("Limits"):
        timeout_s = st.number_input("Deadline per branch (seconds)", min_value=1.0, value=120.0, step=10.0)
        concurrency = st.number_input("At most this many branches at once (0 = all)", min_value=0, value=0)

plan: RunPlan | None = None
problem: str | None = None
if not perspectives:
    problem = "Choose at least one perspective."
elif not engines:
    problem = "Choose at least one engine."
else:
    try:
        plan = plan_review(text, config, perspectives, engines, st.session_state.get("review_reducer", "mean"),
                           int(concurrency) or None, float(timeout_s))
    except InputError as exc:
        problem = str(exc)[0].upper() + str(exc)[1:]

if plan is not None:
    estimate = estimate_run(plan)
    cost = ("free (offline and simulated engines)" if estimate.cost_usd == 0
            else f"estimated ${estimate.cost_usd:.4f}" if estimate.cost_usd is not None
            else f"cost unknown: no price for {', '.join(estimate.unpriced)}")
    st.caption(f"**{estimate.branches} branches** · about {estimate.input_tokens:,} input and "
               f"{estimate.output_tokens:,} output tokens in all · {cost}")
elif problem:
    st.error(problem)

run_col, stop_col, _ = st.columns([1, 1, 6])
clicked = run_col.button("Run", type="primary", disabled=plan is None, icon=":material/play_arrow:", key="review_run")
stop_slot = stop_col.empty()

if clicked and plan is not None:
    st.session_state["review_stopped"] = False
    outcome = RunOutcome.for_plan(plan)
    st.session_state["review_outcome"] = outcome  # stored first: a Stop or a closed tab keeps what finished
    stop_slot.button("Stop", on_click=_stop, icon=":material/stop:", key="review_stop")
    progress = st.empty()
    board = live.Board(plan.branches)
    try:
        live.run_live(plan, board, progress, outcome)
    except Exception as exc:  # noqa: BLE001 - a message, not a traceback
        st.error(f"The run stopped unexpectedly: {exc}")
    progress.empty()
    stop_slot.empty()
else:
    outcome = st.session_state.get("review_outcome")
    if outcome is not None:
        if st.session_state.get("review_stopped"):
            cancelled = sum(r.status == "cancelled" for r in outcome.results.values())
            st.info(f"Stopped: {cancelled} branch(es) cancelled, no call is still running. Finished branches are kept.")
        live.Board(outcome.branches).show(outcome)

if outcome is not None and outcome.results:
    st.divider()
    aggregate = results.reducer_panel(outcome, "review_reducer")
    results.export_buttons(outcome, aggregate)
    results.issues_panel(outcome)
    results.charts_panel(outcome, aggregate)
