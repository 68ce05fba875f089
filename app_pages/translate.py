"""Translate: one text through several engines side by side, judged, compared, and the best one on top."""

from __future__ import annotations

import streamlit as st

from components import live, pickers, reopen, results
from components.inputs import document_input, sentence
from components.pickers import NO_JUDGE
from components.safe import md_escape
from components.settings import session_config
from parallax.config import DEMO_JUDGE
from parallax.documents import InputError
from parallax.languages import language_name, offered_languages
from parallax.run.plan import RunPlan, plan_translate
from parallax.translate.judge import self_judging
from parallax.translate.request import JUDGE_PROTOCOLS, TranslationSettings, parse_glossary

SAMPLE = """Welcome to Acme Sync. Your files are saved automatically every few minutes, \
so you can close the app at any time.

To share a folder, right-click it and choose "Share". Invited people get an e-mail with a link; \
the link expires after 7 days.
"""


def _use_typed_judge() -> None:
    typed = st.session_state["translate_judge_typed"].strip()
    if typed not in st.session_state["translate_judge_ids"]:
        st.session_state["translate_judge_ids"].append(typed)
    st.session_state["translate_judge"] = typed


PROTOCOL_LABELS = {"segments": "Each translation alone", "single": "One segment at a time (GEMBA)",
                   "compare": "Side by side"}

config = session_config()
reopen.restore_inputs("translate", config)  # before any field is drawn: a refresh, a run's address, "Edit and rerun"
st.title("Translate")
st.caption("One text through several translation engines at once: watch them stream side by side, see how much "
           "they agree, let a judge score them, and take the best one.")
if not config.configured_providers():
    st.info("No API key is configured, so this page compares **pseudo-localisation** (not a translation: it tests "
            "that your software is ready for one) with simulated **Demo** engines and a Demo judge. Add "
            "`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `DEEPL_AUTH_KEY` or `LIBRETRANSLATE_URL` for real translations.",
            icon=":material/key:")

codes = offered_languages()
left, right = st.columns([3, 2], gap="large")
with left:
    text = document_input("translate", "Text to translate", SAMPLE, height=240)
    with st.expander("Glossary, tone and reference translation"):
        glossary_text = st.text_area("Glossary: one `term,required translation` per line", key="translate_glossary",
                                     placeholder="folder,Ordner\nshare,teilen", height=100)
        tone = st.text_input("Tone", key="translate_tone", placeholder="e.g. formal, friendly")
        reference = st.text_area("Reference translation (adds chrF and BLEU against it)",
                                 key="translate_reference", height=100)
with right:
    a, b = st.columns(2)
    st.session_state.setdefault("translate_source", "en")  # not `index=`: a reopened run sets these keys
    st.session_state.setdefault("translate_target", "de")
    source = a.selectbox("From", codes, format_func=language_name, key="translate_source")
    target = b.selectbox("To", codes, format_func=language_name, key="translate_target")
    engines = pickers.translation_engine_picker(config, "translate_engines")
    judges = pickers.judge_options(config)
    st.session_state.setdefault("translate_judge", config.default_judge(engines) or DEMO_JUDGE)
    judge = st.selectbox("Judge (MQM error spans → score 0–100)", judges, key="translate_judge",
                         format_func=pickers.engine_label)
    if warning := self_judging(None if judge == NO_JUDGE else judge, engines):
        st.caption(f":material/warning: {md_escape(warning)}")
    with st.expander("Use another judge id"):
        st.text_input("Judge engine id", key="translate_judge_typed", placeholder="e.g. openai:gpt-4.1 or local")
        st.button("Use as judge", key="translate_judge_use", on_click=_use_typed_judge,
                  disabled=not st.session_state.get("translate_judge_typed", "").strip())
    st.session_state.setdefault("translate_samples", 1)
    samples = st.number_input("Judge each translation this many times", 1, 5, key="translate_samples",
                              help="Repeated judging shows how consistent the judge is with itself (\"preferred in "
                                   "2 of 3 samples\"). Which translation is better is decided over the segments, "
                                   "never by repeating the judge. Samples are never read from the cache.")
    protocol = st.radio("How the judge sees the translations", list(JUDGE_PROTOCOLS), key="translate_protocol",
                        horizontal=True, format_func=PROTOCOL_LABELS.get,
                        help="Each translation alone (default): one call per translation, its segments numbered; "
                             "no positions to be biased by. One segment at a time: GEMBA-MQM's own protocol, one "
                             "call per segment and translation. Side by side: one call per segment with every "
                             "translation under neutral labels whose positions rotate over the segments (the "
                             "position effect is measured and shown).")

plan: RunPlan | None = None
problem: str | None = None
if not engines:
    problem = "Choose at least one engine."
else:
    try:
        glossary = parse_glossary(glossary_text or "")
        settings = TranslationSettings(source, target, glossary, tone.strip(), reference or None,
                                       None if judge == NO_JUDGE else judge, int(samples), str(protocol))
        plan = plan_translate(text, config, settings, engines, st.session_state.get("translate_reducer", "best"))
    except (InputError, ValueError) as exc:
        problem = sentence(str(exc))

# The run's cards, then its vote (before the verdict and the charts: a vote they do not sway), aggregate and charts.
if live.run_section("translate", plan, problem, panels=results.finished_panels) is None:
    results.preload_charts()  # its script loads while the form shows
