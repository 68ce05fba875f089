"""Choosing what runs: perspectives (built-in and added in the page) and engines (one for all, or a matrix)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import streamlit as st

from parallax.config import DEMO_ENGINES, DEMO_JUDGE, DEMO_TRANSLATORS, SUGGESTED_MODELS, Config
from parallax.perspectives import BUILTIN, parse_custom
from parallax.review.suggest import suggest_perspectives

from .names import display_names
from .safe import md_escape
from .settings import engine_labels

ONE_FOR_ALL = "One engine for all perspectives"
MATRIX = "Matrix: every perspective × every engine"
NO_JUDGE = "No judge"


def engine_label(engine_id: str) -> str:
    if "|" in engine_id:
        return "Fallback: " + " → ".join(engine_label(part) for part in engine_id.split("|"))
    if engine_id.startswith("sim:"):
        # The options stay in the label: the list keeps a selection by its label, so two demo engines with the same
        # name and different options must read differently (with the name alone, the other one ran).
        label, _, options = engine_id[4:].partition("?")
        return f"Demo · {label}" + (f" ({options.replace('&', ', ')})" if options else "")
    return short_label(engine_id)


def chip_labels(options: list[str]) -> Callable[[str], str]:
    """Labels short enough for a chip, all different (the list keeps a selection by its label): an engine's short
    display name (components.names), a demo engine's marked as such."""
    names = display_names(options, engine_labels())

    def label(engine_id: str) -> str:
        name = names.get(engine_id) or display_names([engine_id], engine_labels())[engine_id]
        demo = all(part.startswith("sim:") for part in engine_id.split("|"))
        return f"Demo · {name}" if demo else name

    return label


def selection_help(chosen: list[str], what: str, names: Callable[[str], str]) -> str:
    """The multiselect's help: what the list is for, and each selected engine's full id (a chip shows its short
    name)."""
    ids = "\n".join(f"- {md_escape(names(e))}: `{e}`" for e in chosen)
    return what + (f"\n\nSelected, by full id:\n{ids}" if chosen else "")


def short_label(engine_id: str) -> str:
    return {"offline:rules": "Keyword checks (offline) — no AI",
            "offline:pseudo": "Pseudo-localisation — not a translation",
            "deepl": "DeepL", "libretranslate": "LibreTranslate"}.get(engine_id, engine_id)


def engine_options(config: Config, mode: str = "review") -> list[str]:
    options: list[str] = []
    for provider in config.configured_providers():
        options += SUGGESTED_MODELS[provider]
    options += sorted(config.engines)
    if mode == "translate":
        options += [e for e in config.default_translation_engines() if e in ("deepl", "libretranslate")]
        options += ["offline:pseudo", *DEMO_TRANSLATORS]
    else:
        options += ["offline:rules", *DEMO_ENGINES]
    return options + [e for e in st.session_state.get(f"extra_engines_{mode}", []) if e not in options]


def judge_options(config: Config) -> list[str]:
    """Any engine that can judge: the suggested models, the named engines of parallax.toml (a local server), or an
    id the user typed (checked before any call, like every other engine id), or a reopened run's judge."""
    typed = st.session_state.setdefault("translate_judge_ids", [])
    return list(dict.fromkeys([NO_JUDGE, *(m for p in config.configured_providers() for m in SUGGESTED_MODELS[p]),
                               *config.engines, *typed, DEMO_JUDGE]))


def perspective_picker(config: Config, key: str) -> list[str]:
    names = list(config.perspectives)
    st.session_state.setdefault(key, [n for n in BUILTIN])
    chosen = st.multiselect("Perspectives", names, key=key, help="Each perspective is reviewed by each engine.")
    with st.expander("Add a perspective"):
        with st.form(f"{key}_add", clear_on_submit=True, border=False):
            st.text_input("Name", placeholder="e.g. accessibility", key=f"{key}_new_name")
            st.text_input("What it looks at", placeholder="e.g. readability for screen-reader users",
                          key=f"{key}_new_description")
            st.text_area("Rubric", placeholder="- One criterion per line", height=100, key=f"{key}_new_rubric")
            st.number_input("Weight (for the weighted reducer)", min_value=0.0, value=1.0, step=0.5,
                            key=f"{key}_new_weight")
            st.checkbox("Two steps: draft, then a self-check of the draft", key=f"{key}_new_two_step")
            st.form_submit_button("Add perspective", on_click=_add_perspective, args=(key,))
        if st.session_state.get(f"{key}_new_error"):
            st.error(md_escape(st.session_state[f"{key}_new_error"]))
    return list(chosen)


def suggestion_picker(config: Config, key: str, document: str) -> None:
    """Suggest perspectives for this document (an LLM, or the offline rules with no key); accept or edit them."""
    with st.expander("Suggest perspectives for this text"):
        engine = config.default_engines()[0]
        who = "offline rules on the document's vocabulary" if engine == "offline:rules" else f"`{engine}`"
        st.caption(f"Proposed by {who}. Edit the table, tick the ones to use, then add them.")
        if st.button("Suggest perspectives", key=f"{key}_suggest", icon=":material/auto_awesome:"):
            suggestions, note = asyncio.run(suggest_perspectives(
                document, config, None if engine == "offline:rules" else engine))
            import pandas as pd

            st.session_state[f"{key}_suggested"] = pd.DataFrame([
                {"use": True, "name": s.perspective.name, "description": s.perspective.description,
                 "rubric": s.perspective.rubric, "weight": 1.0, "two_step": False, "why": s.why}
                for s in suggestions])
            st.session_state[f"{key}_suggest_note"] = note
        if st.session_state.get(f"{key}_suggest_note"):
            st.warning(md_escape(st.session_state[f"{key}_suggest_note"]))
        table = st.session_state.get(f"{key}_suggested")
        if table is not None:
            edited = st.data_editor(table, key=f"{key}_suggest_table", hide_index=True, width="stretch",
                                    disabled=["why"])
            st.button("Add the ticked perspectives", key=f"{key}_suggest_add", on_click=_add_suggested,
                      args=(key, edited))


def _add_suggested(key: str, table: Any) -> None:
    rows = table[table["use"]]
    try:
        added = parse_custom({str(r["name"]).strip().lower(): {"description": r["description"], "rubric": r["rubric"],
                                                               "weight": float(r["weight"]),
                                                               "two_step": bool(r["two_step"])}
                              for _, r in rows.iterrows()})
    except ValueError as exc:
        st.session_state[f"{key}_suggest_note"] = str(exc)[:1].upper() + str(exc)[1:]
        return
    st.session_state["custom_perspectives"].update(added)
    st.session_state[key] = list(dict.fromkeys([*st.session_state.get(key, []), *added]))
    st.session_state[f"{key}_suggested"] = None
    st.session_state[f"{key}_suggest_note"] = None


def _add_perspective(key: str) -> None:
    """Form callback: runs before the widgets are drawn, so it may change the selection."""
    name = st.session_state[f"{key}_new_name"].strip().lower()
    description = st.session_state[f"{key}_new_description"].strip()
    spec = {"description": description or name, "rubric": st.session_state[f"{key}_new_rubric"],
            "weight": st.session_state[f"{key}_new_weight"],
            "two_step": st.session_state.get(f"{key}_new_two_step", False)}
    try:
        added = parse_custom({name: spec})
    except ValueError as exc:
        st.session_state[f"{key}_new_error"] = str(exc)[0].upper() + str(exc)[1:]
        return
    st.session_state[f"{key}_new_error"] = None
    st.session_state["custom_perspectives"].update(added)
    st.session_state[key] = [*st.session_state.get(key, []), *added]


def _add_engine(key: str, default: list[str]) -> None:
    """Offer the typed id and select it; it is checked (with a clear message) when the run is planned.

    `default` is the selection the engines list starts with: a click that lands before the list was ever shown
    (right after switching to the matrix) adds to it rather than replacing it.
    """
    engine_id = st.session_state[f"{key}_extra"].strip()
    extra = st.session_state.setdefault(f"extra_engines_{key.split('_')[0]}", [])
    if engine_id not in extra:
        extra.append(engine_id)
    if st.session_state.get(f"{key}_mode") == MATRIX:
        current = st.session_state.get(f"{key}_many", default)  # [] after "Clear all" stays empty
        st.session_state[f"{key}_many"] = list(dict.fromkeys([*current, engine_id]))
    else:
        st.session_state[f"{key}_one"] = engine_id
    st.session_state[f"{key}_extra"] = ""  # ready for the next id


def _matrix_start(key: str, default: str) -> list[str]:
    """What the matrix list starts with: the one engine the page showed selected a moment ago (one for all), not a
    default of its own — the selection is exactly what the user has seen, and every chip of it stays visible."""
    return [st.session_state.get(f"{key}_one") or default]


def engine_picker(config: Config, key: str) -> list[str]:
    options = engine_options(config, "review")
    default = config.default_engines()[0]
    mode = st.radio("How engines are assigned", [ONE_FOR_ALL, MATRIX], key=f"{key}_mode", horizontal=True)
    if mode == ONE_FOR_ALL:
        st.session_state.setdefault(f"{key}_one", default)
        chosen = [st.selectbox("Engine", options, key=f"{key}_one", format_func=engine_label)]
    else:
        st.session_state.setdefault(f"{key}_many", _matrix_start(key, default))
        selected = [e for e in st.session_state[f"{key}_many"] if e in options]
        names = chip_labels(options)
        chosen = st.multiselect("Engines", options, key=f"{key}_many", format_func=names, wrap=True,
                                help=selection_help(selected, "Every perspective is reviewed by every engine "
                                                              "selected here.", names))
        every_chip_shown(f"{key}_many")
        # Always drawn (an element that comes and goes would shift, and close, the expander below).
        st.caption(f"Runs exactly these {len(chosen)} engine{'s' if len(chosen) != 1 else ''}: "
                   + ", ".join(md_escape(names(e)) for e in chosen) + "." if chosen else "No engine selected.")
    with st.expander("Use another engine id"):
        extra = st.text_input("Engine id", key=f"{key}_extra",
                              placeholder="openai:MODEL, anthropic:MODEL, a named engine, sim:LABEL?latency=1")
        st.button("Add engine", key=f"{key}_add", on_click=_add_engine,
                  args=(key, _matrix_start(key, default)), disabled=not extra.strip())
    return [c for c in chosen if c]


# Streamlit caps a multiselect's chips at about four rows and scrolls the rest out of sight: every selected engine
# stays in view (fixed CSS with the widget's own key in it).
ALL_CHIPS_CSS = """<style>
.st-key-{key} div:has(> [data-testid=stMultiSelectTagsContainer]) {{ max-height: none !important; }}
.st-key-{key} [data-testid=stMultiSelectTagsContainer] {{ overflow: visible !important; }}
</style>"""


def every_chip_shown(key: str) -> None:
    st.html(ALL_CHIPS_CSS.format(key=key))


def translation_engine_picker(config: Config, key: str) -> list[str]:
    """Several engines side by side; with no provider configured, offline pseudo-localisation and the demos."""
    options = engine_options(config, "translate")
    default = config.default_translation_engines()
    if default == ["offline:pseudo"]:
        default = ["offline:pseudo", *DEMO_TRANSLATORS[:2]]
    st.session_state.setdefault(f"{key}_many", default)
    selected = [e for e in st.session_state[f"{key}_many"] if e in options]
    names = chip_labels(options)
    chosen = st.multiselect("Engines", options, key=f"{key}_many", format_func=names, wrap=True,
                            help=selection_help(selected, "Each engine translates on its own branch. A|B|C tries "
                                                          "B when A fails.", names))
    every_chip_shown(f"{key}_many")
    with st.expander("Use another engine id or a fallback chain"):
        extra = st.text_input("Engine id", key=f"{key}_extra", placeholder="deepl, openai:MODEL, openai:MODEL|deepl")
        st.session_state[f"{key}_mode"] = MATRIX  # added engines join the selection
        st.button("Add engine", key=f"{key}_add", on_click=_add_engine, args=(key, default),
                  disabled=not extra.strip())
    return list(chosen)
