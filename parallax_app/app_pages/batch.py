"""Batch: a CSV or JSONL file of documents through the same branches, with progress, ETA, cost and resume."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from parallax.batch import (
    BatchError,
    BatchProgress,
    count_rows,
    document_branches,
    finished_ids,
    read_rows,
    run_batch,
    score_summary,
)
from parallax.documents import InputError
from parallax.languages import language_name, offered_languages
from parallax.reducers import reduce
from parallax.run import RunOutcome, RunPlan, plan_review, plan_translate
from parallax.storage import DEFAULT_PATH
from parallax.translation import TranslationSettings
from parallax_app.components import live, pickers, results
from parallax_app.components.inputs import sentence
from parallax_app.components.safe import md_escape
from parallax_app.components.settings import history_store, session_config

BATCHES = DEFAULT_PATH.parent / "batches"

config = session_config()
st.title("Batch")
st.caption("Every document of a CSV or JSONL file through the same branches: bounded concurrency, progress with "
           "ETA and cost so far, results written as each document finishes — and a stopped batch resumes where "
           "it left off.")

UPLOAD_MB = 200  # a batch file is larger than one document (5 MB on the Review and Translate pages)
uploaded = st.file_uploader(f"Documents (.csv with a header row, or .jsonl) — up to {UPLOAD_MB} MB",
                            type=["csv", "jsonl"], key="batch_upload", max_upload_size=UPLOAD_MB)
if uploaded is None:
    st.info("Upload a file to start. Each row is one document; pick the column that holds the text.")
    st.stop()

data = uploaded.getvalue()
digest = hashlib.sha256(data).hexdigest()[:16]
suffix = ".jsonl" if uploaded.name.lower().endswith(".jsonl") else ".csv"
BATCHES.mkdir(parents=True, exist_ok=True)
source = BATCHES / f"{digest}{suffix}"
if not source.exists():
    source.write_bytes(data)

if suffix == ".csv":
    header = next(csv.reader(io.StringIO(data[:65536].decode("utf-8", errors="replace"))), [])
else:
    first = next((line for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()), "{}")
    try:
        header = list(json.loads(first))
    except (json.JSONDecodeError, TypeError):
        header = []
if not header:
    st.error(f"{md_escape(uploaded.name)} has no header row (CSV) or no JSON object on its first line (JSONL).")
    st.stop()

left, right = st.columns(2, gap="large")
with left:
    column = st.selectbox("Text column", header, index=header.index("text") if "text" in header else 0,
                          key="batch_column")
    id_column = st.selectbox("Id column (kept in the results)", ["(row number)", *header],
                             index=header.index("id") + 1 if "id" in header else 0, key="batch_id")
    mode = st.radio("Mode", ["review", "translate"], horizontal=True, key="batch_mode")
    concurrency = st.slider("Calls at once", 1, 64, 32, key="batch_concurrency")
    rpm_text = st.text_input("Requests per minute per provider (optional)", placeholder="openai=500, anthropic=50",
                             key="batch_rpm")
    retry_failed = st.toggle("On resume, run documents that failed earlier again", value=True, key="batch_retry")
    use_cache = st.toggle("Answer identical calls from the history (no new call, no cost)", value=True,
                          key="batch_cache")
with right:
    plan: RunPlan | None = None
    problem: str | None = None
    try:
        if mode == "review":
            perspectives = pickers.perspective_picker(config, "batch_perspectives")
            engines = pickers.engine_picker(config, "batch_engines")
            plan = plan_review("(each document)", config, perspectives, engines, "mean", None, 120.0)
        else:
            codes = offered_languages()
            a, b = st.columns(2)
            source_lang = a.selectbox("From", codes, index=codes.index("en"), format_func=language_name,
                                      key="batch_source")
            target_lang = b.selectbox("To", codes, index=codes.index("de"), format_func=language_name,
                                      key="batch_target")
            engines = pickers.translation_engine_picker(config, "batch_tengines")
            plan = plan_translate("(each document)", config, TranslationSettings(source_lang, target_lang,
                                  judge=config.default_judge()), engines)
        rpm = {}
        for item in filter(None, (p.strip() for p in rpm_text.split(","))):
            provider, _, value = item.partition("=")
            if not value.strip().replace(".", "", 1).isdigit() or float(value) <= 0:
                raise InputError(f"requests per minute: write PROVIDER=N, e.g. openai=500 (not {item!r})")
            rpm[provider.strip()] = float(value)
        rows = read_rows(source, column, None if id_column == "(row number)" else id_column)
        total = count_rows(source)
    except (InputError, BatchError) as exc:
        plan, problem = None, sentence(str(exc))

settings_key = hashlib.sha256(json.dumps([column, id_column, mode, [b.branch_id for b in plan.branches]
                                          if plan else []]).encode()).hexdigest()[:12]
out = BATCHES / f"{digest}-{settings_key}.results.csv"
if problem:
    st.error(md_escape(problem))
done_before = len(finished_ids(out, retry_failed)) if plan is not None else 0
if plan is not None and not problem:
    if done_before >= total:
        note = " · all done: the results are below"
    elif done_before:
        note = f" · {done_before} done in an earlier run: Resume runs the other {total - done_before}"
    else:
        note = ""
    st.caption(f"**{total} documents × {len(plan.branches)} branches**{note}")

run_col, stop_col, _ = st.columns([1, 1, 6])
# "Resume" only when an earlier run left something to do; nothing to run when every document is done.
label = "Resume batch" if 0 < done_before < total else "Run batch"
clicked = run_col.button(label, type="primary", disabled=plan is None or (total > 0 and done_before >= total),
                         key="batch_run", icon=":material/play_arrow:")
if clicked and plan is not None:
    stop_slot = stop_col.empty()
    stop_slot.button("Stop", key="batch_stop", icon=":material/stop:")
    store = history_store()
    plan.cache = store if use_cache else None
    bar = st.progress(0.0, text="Starting…")
    table = st.empty()
    latest: list[dict[str, object]] = []
    state: dict[str, BatchProgress] = {}

    def on_document(row: dict[str, object], progress: BatchProgress) -> None:
        latest.append(row)
        del latest[:-20]
        state["p"] = progress

    loop = asyncio.new_event_loop()
    task = loop.create_task(run_batch(plan, rows, out, total, concurrency, rpm, on_document, retry_failed))
    try:
        while not task.done():
            loop.run_until_complete(asyncio.wait({task}, timeout=0.25))
            progress = state.get("p")
            if progress is not None:
                eta = f" · ETA {progress.eta_s:.0f} s" if progress.eta_s is not None else ""
                cached = f" · {progress.cached} answers from the cache" if progress.cached else ""
                bar.progress(progress.done / max(1, progress.total),
                             text=f"{progress.done} of {progress.total} documents · {progress.failed_rows} failed "
                                  f"or invalid{cached} · cost so far ${progress.cost_usd:.4f}{eta}")
                table.dataframe(pd.DataFrame(latest[::-1]), hide_index=True, width="stretch")
        task.result()
        st.success(f"Done: results are in {md_escape(str(out))}")
    except Exception as exc:  # noqa: BLE001 - a message, not a traceback
        st.error(f"The batch stopped: {md_escape(str(exc))}")
    finally:
        if not task.done():  # a Stop, another click or a closed tab: finished documents stay on disk
            task.cancel()
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.close()
    stop_slot.empty()

if out.exists():
    frame = pd.read_csv(out, dtype={"id": str}).sort_values("row", kind="stable")  # input order
    st.subheader(f"Results ({len(frame)} documents)")
    st.dataframe(frame, hide_index=True, width="stretch")
    with st.expander("Open one document: its branches in the usual cards"):
        doc_id = st.selectbox("Document", list(frame["id"].astype(str)), key="batch_document")
        found = document_branches(out, str(doc_id)) if doc_id is not None else None
        if not found:
            st.caption("No branch results for this document (it was invalid, or finished before this batch kept "
                       "them).")
        elif plan is not None:
            outcome = RunOutcome(f"batch-{doc_id}", plan.mode, plan.reducer, plan.branches,
                                 results={r.branch_id: r for r in found})
            outcome.aggregate = reduce(outcome.ordered(), plan.reducer)
            live.Board(outcome.branches, outcome.mode).show(outcome)
            results.outcome_panels(outcome, "batchdoc")
    st.download_button("Download results CSV", out.read_bytes(), out.name, "text/csv", on_click="ignore",
                       icon=":material/download:")
    estimates, comparisons = score_summary(out)
    if estimates:
        st.markdown("**Each branch over the documents** — mean score with its 95% bootstrap interval; the leading "
                    "branch against each other one, paired by document (each document's own difficulty cancels out).")
        st.dataframe(pd.DataFrame([{"branch": name, "mean": e.mean, "sd": e.sd, "95% CI low": e.low,
                                    "95% CI high": e.high, "documents": e.n} for name, e in estimates.items()]),
                     hide_index=True, width="stretch")
        for c in comparisons:
            st.caption(md_escape(c.describe()))
    score_columns = [c for c in frame.columns if c.startswith("score:")]
    left, right = st.columns(2)
    if score_columns:
        fig = go.Figure([go.Box(y=frame[c], name=c.removeprefix("score:").split("?")[0], boxpoints="outliers")
                         for c in score_columns])
        fig.update_layout(title="Score distribution per branch", height=380, showlegend=False)
        left.plotly_chart(fig, key="batch_scores")
    failures = frame[frame["status"] != "ok"]
    if len(failures):
        causes = failures["error"].fillna(failures["status"]).astype(str).str.split(":").str[-1].str.strip()
        counts = causes.value_counts().head(10)
        fig = go.Figure(go.Bar(x=counts.values, y=counts.index, orientation="h", marker_color="#dc2626"))
        fig.update_layout(title="Failures by cause", height=380)
        fig.update_xaxes(title="documents", tickformat="d", dtick=1 if counts.max() <= 10 else None, rangemode="tozero")
        right.plotly_chart(fig, key="batch_failures")
    else:
        right.success("No document failed.")
