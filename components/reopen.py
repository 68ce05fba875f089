"""Putting a stored run's inputs back into a page's form: after a refresh, from a run's address, or "Edit and rerun".

Streamlit lets a field's value be set only before the field is drawn in a script run, so `restore_inputs` is
called at the top of a page; a click that asks for it (the page's "Edit and rerun") leaves a request in the
session and the page reruns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from parallax.config import Config
from parallax.run.inputs import RunInputs, glossary_text, run_inputs

from .pickers import MATRIX, NO_JUDGE, ONE_FOR_ALL, engine_options, judge_options
from .safe import md_code, md_escape
from .settings import history_store

if TYPE_CHECKING:
    from parallax.storage import RunRecord


def request_edit(prefix: str, run_id: str) -> None:
    """A button's callback: load this run's inputs into the form on the rerun that follows."""
    st.session_state[f"{prefix}_edit"] = run_id


def restore_inputs(prefix: str, config: Config) -> None:
    """When the address names a run this session has not shown yet (a refresh, a shared link: the session is new,
    its form never drawn) or an edit of a run is asked for (`&edit=1`, or the page's button), that run's inputs go
    into the form, so that what the page shows matches what ran. A run of another page, or one the history does
    not have, changes nothing here (the run's view says why)."""
    asked = st.session_state.pop(f"{prefix}_edit", None)
    edit = "edit" in st.query_params
    if edit:
        del st.query_params["edit"]  # once: a refresh after it is a refresh
    run_id = asked or st.query_params.get("run")
    fresh = f"{prefix}_text" not in st.session_state
    if not run_id or not (asked or edit or fresh):
        return
    store = history_store()
    if store is None:
        return
    from parallax.storage import StorageError

    try:
        record = store.load_run(run_id)
    except StorageError:
        return
    if record.mode == prefix:
        load(prefix, record, config)


def load(prefix: str, record: RunRecord, config: Config) -> None:
    """Set the page's fields to the run's inputs (before they are drawn). What cannot be put back as it was is
    said in one sentence each, shown above the run's cards."""
    notes: list[str] = []
    try:
        inputs = run_inputs(record, config)
    except ValueError as exc:
        st.session_state[f"{prefix}_restore_notes"] = [
            f"The inputs of run {md_code(record.run_id)} cannot be put back: {md_escape(str(exc))}."]
        return
    state = st.session_state
    state[f"{prefix}_text"] = inputs.document
    state[f"{prefix}_upload_error"] = state[f"{prefix}_upload_note"] = None
    if prefix == "review":
        notes += _review_fields(inputs, config)
    else:
        notes += _translate_fields(inputs, config)
    notes += _unavailable(inputs, config)
    state[f"{prefix}_input"] = inputs.key  # nothing changed yet: the run's results are for these inputs
    state[f"{prefix}_inputs_of"] = record.run_id
    state[f"{prefix}_restore_notes"] = notes


def _selectable(engines: list[str], config: Config, mode: str) -> None:
    """An engine the lists do not offer (an id typed in another session) joins them, as a typed one does."""
    offered = engine_options(config, mode)
    extra = st.session_state.setdefault(f"extra_engines_{mode}", [])
    extra += [e for e in engines if e not in offered and e not in extra]


def _review_fields(inputs: RunInputs, config: Config) -> list[str]:
    state, notes = st.session_state, []
    for name in inputs.perspectives:
        if name not in config.perspectives and name in inputs.snapshots:  # added on a page, in another session
            state["custom_perspectives"][name] = config.perspectives[name] = inputs.snapshots[name]
    missing = [n for n in inputs.perspectives if n not in config.perspectives]
    if missing:
        notes.append(f"Perspective(s) {', '.join(map(md_code, missing))} of this run are no longer defined, so "
                     "they are left out.")
    state["review_perspectives"] = [n for n in inputs.perspectives if n in config.perspectives]
    _selectable(inputs.engines, config, "review")
    if len(inputs.engines) == 1:
        state["review_engines_mode"], state["review_engines_one"] = ONE_FOR_ALL, inputs.engines[0]
    else:
        state["review_engines_mode"], state["review_engines_many"] = MATRIX, list(inputs.engines)
    state["review_samples"] = inputs.samples
    state["review_timeout"] = float(inputs.timeout_s)
    state["review_concurrency"] = inputs.concurrency or 0
    return notes


def _translate_fields(inputs: RunInputs, config: Config) -> list[str]:
    from parallax.languages import language_name, offered_languages
    from parallax.translate.request import JUDGE_PROTOCOLS

    state, notes = st.session_state, []
    settings = inputs.translation
    _selectable(inputs.engines, config, "translate")
    state["translate_engines_many"] = list(inputs.engines)
    if settings is None:
        return notes
    codes = offered_languages()
    for key, code in (("translate_source", settings.source), ("translate_target", settings.target)):
        if code in codes:
            state[key] = code
        else:
            notes.append(f"This run's language {md_code(code)} ({md_escape(language_name(code))}) is not offered "
                         "any more: choose another.")
    judge = settings.judge or NO_JUDGE
    if judge not in judge_options(config):
        state["translate_judge_ids"].append(judge)
    state["translate_judge"] = judge
    state["translate_glossary"] = glossary_text(settings.glossary)
    state["translate_tone"] = settings.tone
    state["translate_reference"] = settings.reference or ""
    state["translate_samples"] = settings.judge_samples
    if settings.judge_protocol in JUDGE_PROTOCOLS:
        state["translate_protocol"] = settings.judge_protocol
    return notes


def _unavailable(inputs: RunInputs, config: Config) -> list[str]:
    """The run's engines (and judge) that cannot run now — a key or a server gone: they stay selected, so the form
    shows what ran, and one sentence says so."""
    from parallax.documents import InputError
    from parallax.run.plan import resolve_engines

    kind = "translate" if inputs.mode == "translate" else "review"
    wanted = [(e, kind) for e in inputs.engines]
    if inputs.translation is not None and inputs.translation.judge:
        wanted.append((inputs.translation.judge, "judge"))
    gone: list[str] = []
    reason = ""
    for engine_id, task in wanted:
        try:
            resolve_engines([engine_id], config, task)
        except InputError as exc:
            gone.append(engine_id)
            reason = reason or str(exc).split(";")[0]  # an unknown id's list of valid forms is long
    if not gone:
        return []
    return [f"This run used {', '.join(map(md_code, gone))}, which cannot run now ({md_escape(reason)}): "
            "still selected, so the form shows what ran; configure it or choose another engine to run again."]
