"""Batch: a CSV or JSONL file of documents through the same branches, with progress, ETA, cost and resume."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import batch_view, live, pickers, results
from components.inputs import sentence
from components.safe import md_escape
from components.settings import engine_labels, history_store, session_config
from parallax.batch.output import BatchOutput, BatchProgress, document_branches, finished_ids, score_summary
from parallax.batch.provider import (
    BATCH_PRICE_FACTOR,
    WINDOW,
    batch_engines,
    collect_job,
    describe,
    not_sealed,
    sealed,
    submit,
)
from parallax.batch.rows import BatchError, count_rows, read_rows, sample_texts
from parallax.batch.run import run_batch
from parallax.config import parallax_home
from parallax.documents import InputError
from parallax.estimate import estimate_batch, usd
from parallax.languages import language_name, offered_languages
from parallax.reducers import reduce
from parallax.run.execute import RunOutcome
from parallax.run.failures import describe_failure, plural
from parallax.run.plan import RunPlan, plan_review, plan_translate
from parallax.translate.request import TranslationSettings

config = session_config()
st.title("Batch")
st.caption("Every document of a CSV or JSONL file through the same branches: bounded concurrency, progress with "
           "ETA and cost so far, results written as each document finishes — and a stopped batch resumes where "
           "it left off.")


def waiting_batches() -> None:
    """Provider batches sent earlier and not yet collected, with a button that asks their state and collects the
    ended ones into their results files."""
    store = history_store()
    waiting = store.provider_batches() if store is not None else []
    if store is None or not waiting:
        return
    with st.container(border=True):
        st.markdown(f"**Provider batches waiting** ({len(waiting)}) — {WINDOW}, at half the price")
        table = st.empty()
        if st.button("Check and collect", key="batch_collect", icon=":material/refresh:"):
            for record in waiting:
                if not sealed(record):  # written into the history by someone else: it could name any file
                    st.warning(md_escape(sentence(not_sealed(record))))
                    continue
                try:
                    with st.spinner(f"Asking the providers about {record['job_id']}…"):
                        got = collect_job(record, store, lambda _line: None, once=True)
                except Exception as exc:  # noqa: BLE001 - a message, not a traceback
                    st.error(f"{record['job_id']}: {md_escape(describe_failure(exc, 'provider', 1))}")
                    continue
                if got is None:
                    st.info(f"{record['job_id']}: still running — {md_escape(describe(record['parts']))}")
                    continue
                progress, out_path = got[1], Path(record["out_path"])
                st.success(f"{record['job_id']}: collected {progress.done} of {progress.total} documents "
                           f"({progress.failed_rows} failed or invalid), cost {progress.cost.total.text()} → "
                           f"{md_escape(out_path.name)}")
                st.download_button(f"Download {out_path.name}", out_path.read_bytes(), out_path.name, "text/csv",
                                   on_click="ignore", icon=":material/download:", key=f"collected_{record['job_id']}")
            waiting = store.provider_batches()
        if waiting:
            table.dataframe(pd.DataFrame([{"job": r["job_id"], "sent (UTC)": r["created_at"][:19].replace("T", " "),
                                           "state": describe(r["parts"]), "results file": Path(r["out_path"]).name}
                                          for r in waiting]), hide_index=True, width="stretch")
        else:
            table.caption("Every provider batch has been collected.")


waiting_batches()
UPLOAD_MB = 200  # a batch file is larger than one document (5 MB on the Review and Translate pages)
uploaded = st.file_uploader(f"Documents (.csv with a header row, or .jsonl) — up to {UPLOAD_MB} MB",
                            type=["csv", "jsonl"], key="batch_upload", max_upload_size=UPLOAD_MB)
if uploaded is None:
    st.info("Upload a file to start. Each row is one document; pick the column that holds the text.")
    st.stop()

data = uploaded.getvalue()
digest = hashlib.sha256(data).hexdigest()[:16]
suffix = ".jsonl" if uploaded.name.lower().endswith(".jsonl") else ".csv"
batches = parallax_home() / "batches"  # PARALLAX_HOME as it is now
batches.mkdir(parents=True, exist_ok=True)
source = batches / f"{digest}{suffix}"
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
    provider_batch = st.toggle("Provider batch APIs: half the price, results within 24 h", value=False,
                               key="batch_provider",
                               help="OpenAI Batch and Anthropic Message Batches, for openai: and anthropic: engines. "
                                    "The job is kept in the history: collect it on this page, or with "
                                    "`parallax batch --resume`, even after a restart.")
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
out = batches / f"{digest}-{settings_key}.results.csv"
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
    sample = sample_texts(source, column, None if id_column == "(row number)" else id_column)
    normal = estimate_batch(plan, sample, total)
    halved = estimate_batch(plan, sample, total, BATCH_PRICE_FACTOR)
    if normal is not None and normal.cost_usd and halved is not None:
        cost = (f" · estimated cost {usd(normal.cost_usd)}, or {usd(halved.cost_usd)} as a provider batch (half the "
                "price for the branches)")
    else:
        cost = ""
    st.caption(f"**{plural(total, 'document')} × {plural(len(plan.branches), 'branch')}**{note}{cost}")
cannot_batch = None  # said before the click: the button stays off until the engines can take a provider batch
if provider_batch and plan is not None:
    try:
        batch_engines(plan)
    except InputError as exc:
        cannot_batch = sentence(str(exc))
        st.warning(md_escape(cannot_batch))

run_col, stop_col, _ = st.columns([2, 1, 5])
# "Resume" only when an earlier run left something to do; nothing to run when every document is done.
label = "Resume batch" if 0 < done_before < total else "Run batch"
if provider_batch:
    label = "Send provider batch"
clicked = run_col.button(label, type="primary", key="batch_run", icon=":material/play_arrow:",
                         disabled=plan is None or (total > 0 and done_before >= total) or cannot_batch is not None)
if clicked and plan is not None and provider_batch:
    store = history_store(now=True)
    if store is None:
        st.error("The history is unavailable, and a provider batch is kept there: try again in a moment.")
    else:
        plan.cache = store if use_cache else None
        # What the batch reads and writes; the run itself is stored as its spec (submit keeps it with the job).
        options = {"mode": mode, "input": str(source), "column": column,
                   "id_column": None if id_column == "(row number)" else id_column, "out": str(out),
                   "concurrency": concurrency, "config": None, "no_cache": not use_cache,
                   "skip_failed": not retry_failed}
        output = BatchOutput(plan, out, total, retry_failed)
        try:
            with st.spinner("Sending the batch to the providers…"):
                record = asyncio.run(submit(plan, output.to_run(rows), store, out, options))
        except Exception as exc:  # noqa: BLE001 - a message, not a traceback
            st.error(f"The provider batch could not be sent: {md_escape(describe_failure(exc, 'provider', 1))}")
        else:
            st.success(f"Sent provider batch {record['job_id']} ({md_escape(describe(record['parts']))}). "
                       f"Results within 24 hours, at half the price: collect them with **Check and collect** at the "
                       f"top of this page, or with `parallax batch --resume {record['job_id']}`.")
        finally:
            output.close()
elif clicked and plan is not None:
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
                                  f"or invalid{cached} · cost so far {progress.cost.total.text()}{eta}")
                table.dataframe(batch_view.styled(batch_view.results_frame(latest[::-1], mode)), hide_index=True,
                                width="stretch", placeholder="—")
        task.result()
        done = state.get("p")
        spent = "" if done is None else " — " + md_escape(" · ".join(done.cost.lines()))  # the judge apart too
        st.success(f"Done: {plural(total if done is None else done.done, 'document')}{spent}. The results are "
                   "below, with their download.")
    except Exception as exc:  # noqa: BLE001 - a message, not a traceback
        st.error(f"The batch stopped: {md_escape(str(exc))}")
    finally:
        if not task.done():  # a Stop, another click or a closed tab: finished documents stay on disk
            task.cancel()
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.close()
    stop_slot.empty()
    table.empty()  # the latest documents give way to the whole table below: one table, not two

frame = pd.read_csv(out, dtype={"id": str}).sort_values("row", kind="stable") if out.exists() else None  # input order
if frame is not None and len(frame):
    st.subheader(f"Results ({len(frame)} documents)")
    texts = {row.doc_id: batch_view.text_start(row.text)
             for row in read_rows(source, column, None if id_column == "(row number)" else id_column)}
    st.dataframe(batch_view.styled(batch_view.results_frame(frame.to_dict("records"), mode, texts,
                                                            engine_labels())),
                 hide_index=True, width="stretch", key="batch_results", placeholder="—",
                 column_config={"text": st.column_config.TextColumn("text (start)", width="medium"),
                                "error": st.column_config.TextColumn(width="large")})
    st.download_button("Download results CSV", out.read_bytes(), out.name, "text/csv", on_click="ignore",
                       icon=":material/download:", help="Every column as written: each branch's score, summary "
                                                        "or translation, and the engines' full ids.")
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
    estimates, comparisons = score_summary(out)
    if estimates:
        st.markdown("**Each branch over the documents** — mean score with its 95% bootstrap interval; the leading "
                    "branch against each other one, paired by document (each document's own difficulty cancels out).")
        st.dataframe(batch_view.styled(batch_view.estimates_frame(estimates, mode, engine_labels())),
                     hide_index=True, width="stretch", placeholder="—")
        for c in comparisons:
            st.caption(md_escape(c.describe("documents")))
    score_columns = [c for c in frame.columns if c.startswith("score:") and frame[c].notna().any()]
    left, right = st.columns(2)
    if not score_columns:
        left.caption("No scores to chart: no branch was scored (a translation batch without a judge is compared "
                     "by agreement only).")
    else:
        names = batch_view.branch_names((c.removeprefix("score:") for c in score_columns), engine_labels())
        fig = go.Figure([go.Box(y=frame[c], name=names[c.removeprefix("score:")], boxpoints="outliers")
                         for c in score_columns])
        fig.update_layout(title=f"Score distribution per branch ({batch_view.scale(mode)})", height=380,
                          showlegend=False)
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
