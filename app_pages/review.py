"""Review: paste or upload a text, pick perspectives and engines, watch every branch stream, read one verdict."""

from __future__ import annotations

import streamlit as st

from components import live, pickers, reopen, results
from components.inputs import document_input, sentence
from components.settings import session_config
from parallax.documents import InputError
from parallax.run.plan import RunPlan, plan_review

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


config = session_config()
reopen.restore_inputs("review", config)  # before any field is drawn: a refresh, a run's address, "Edit and rerun"
st.title("Review")
st.caption("One text, several independent branches at once: every perspective × engine streams in its own card, "
           "then an explicit reducer merges them.")
if not config.configured_providers():
    st.info("No API key is configured, so Parallax runs on **Keyword checks (offline)** (word and pattern "
            "checks, no AI) and the simulated **Demo** engines. To use OpenAI or Anthropic, add `OPENAI_API_KEY` "
            "or `ANTHROPIC_API_KEY` to `.streamlit/secrets.toml`, or type a key in the sidebar.", icon=":material/key:")

left, right = st.columns([3, 2], gap="large")
with left:
    text = document_input("review", "Text to review", SAMPLE, height=220)
    controls = st.container()  # Run right under the text: on the first screen
with right:
    perspectives = pickers.perspective_picker(config, "review_perspectives")
    pickers.suggestion_picker(config, "review_perspectives", text)
    engines = pickers.engine_picker(config, "review_engines")
    # Defaults through the session, not `value=`: a reopened run sets these keys before they are drawn.
    st.session_state.setdefault("review_samples", 1)
    samples = st.number_input("Samples per branch", 1, 5, key="review_samples",
                              help="Ask each branch this many times: its score is the mean, shown with its standard "
                                   "deviation and, from 3 samples, a 95% interval. Samples show how consistent the "
                                   "model is with itself, not which branch is better. Each sample is a paid call.")
    with st.expander("Limits"):
        st.session_state.setdefault("review_timeout", 120.0)
        st.session_state.setdefault("review_concurrency", 0)
        timeout_s = st.number_input("Deadline per branch (seconds)", min_value=1.0, step=10.0, key="review_timeout")
        concurrency = st.number_input("At most this many branches at once (0 = all)", min_value=0,
                                      key="review_concurrency")

plan: RunPlan | None = None
problem: str | None = None
if not perspectives:
    problem = "Choose at least one perspective."
elif not engines:
    problem = "Choose at least one engine."
else:
    try:
        plan = plan_review(text, config, perspectives, engines, st.session_state.get("review_reducer", "mean"),
                           int(concurrency) or None, float(timeout_s), int(samples))
    except InputError as exc:
        problem = sentence(str(exc))

# The run's cards, then its vote (before the verdict and the charts: a vote they do not sway), aggregate and charts.
if live.run_section("review", plan, problem, controls, panels=results.finished_panels) is None:
    results.preload_charts()  # its script loads while the form shows
