"""What a finished card shows: a review's score and summary, a translation with the judge's error spans, the prompt
and the raw reply, and the metrics line."""

from __future__ import annotations

from typing import Any

import streamlit as st

from parallax.estimate import usd
from parallax.results import BranchResult
from parallax.review.judgement import SCHEMA, readable
from parallax.run.failures import plural
from parallax.translate.judge import MQM_SCHEMA, highlight

from .safe import md_code, md_escape


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
        what = (f"{found.n} segments" if found.unit == "segments" else
                f"{found.n}{' judge' if r.judge_score is not None else ''} samples (all fresh calls)")
        parts.append(f"mean of {what}, sd {found.sd:g}"
                     + (f", {found.interval}" if found.interval else ", too few for an interval"))
    if r.judge_score is not None and len(r.samples) > 1:
        parts.append(f"{len(r.samples)} judge samples (all fresh calls)")
    if r.confidence is not None:
        parts.append(f"model's self-reported confidence {r.confidence:.0%}")
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
        facts.append(f"agreement (chrF with the others, 0–100) {r.agreement:g}"
                     + (" — :orange[outlier]" if r.outlier else ""))
    if r.answered_by and r.answered_by != r.engine:
        facts.append(f"answered by {md_escape(r.answered_by)} after {len(r.fallbacks)} failure(s)")
    if r.glossary:
        used = sum(r.glossary.values())
        facts.append(f"glossary {used}/{len(r.glossary)}")
    if r.chrf_reference is not None:
        facts.append(f"vs reference: chrF {r.chrf_reference:g}, BLEU {r.bleu_reference:g}")
    if facts:
        st.caption(" · ".join(facts))


def finished_body(r: BranchResult, mode: str, exchange_key: str | None = None) -> None:
    """A finished branch's card: its score and summary (a review), its translation (a translation), or its error
    and any partial text; then what was sent and what came back, drawn only once its expander (`exchange_key`) is
    opened — a rerun — not sent for every card of every run: each holds the document, and 12 cards' four code blocks
    were ~50 grey placeholders in the browser at the end of a run. Without a key (a live board, where a click would
    end the run) it is left to the finished run's board."""
    if mode == "translate" and r.status == "ok":
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
    if r.exchange and exchange_key is None:
        st.caption("Its prompt and raw reply show when the run has ended.")
    elif r.exchange:
        box = st.expander("Prompt and raw reply", key=exchange_key, on_change="rerun")
        if box.open:
            with box:
                exchange_view(r.exchange, r.text, r.structured_mode)
