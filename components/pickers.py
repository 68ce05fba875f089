"""Choosing what runs: perspectives (built-in and added in the page) and engines (one for all, or a matrix)."""

from __future__ import annotations

import streamlit as st

from parallax.config import DEMO_ENGINES, SUGGESTED_MODELS, Config
from parallax.perspectives import BUILTIN, parse_custom

ONE_FOR_ALL = "One engine for all perspectives"
MATRIX = "Matrix: every perspective × every engine"


def engine_label(engine_id: str) -> str:
    if engine_id.startswith("sim:"):
        return f"Demo · {engine_id[4:].split('?')[0]} (simulated, {engine_id.split('?')[1] if '?' in engine_id else ''})"
    if engine_id == "offline:rules":
        return "Offline rules — no AI"
    return engine_id


def engine_options(config: Config) -> list[str]:
    options: list[str] = []
    for provider in config.configured_providers():
        options += SUGGESTED_MODELS[provider]
    options += sorted(config.engines)
    options.append("offline:rules")
    options += DEMO_ENGINES
    return options + [e for e in st.session_state.get("extra_engines", []) if e not in options]


def perspective_picker(config: Config, key: str) -> list[str]:
    names = list(config.perspectives)
    st.session_state.setdefault(key, [n for n in BUILTIN])
    chosen = st.multiselect("Perspectives", names, key=key, help="Each perspective is reviewed by each engine.")
    with st.expander("Add a perspective"):
        with st.form(f"{key}_add", clear_on_submit=True, border=False):
            name = st.text_input("Name", placeholder="e.g. accessibility")
            description = st.text_input("What it looks at", placeholder="e.g. readability for screen-reader users")
            rubric = st.text_area("Rubric", placeholder="- One criterion per line", height=100)
            weight = st.number_input("Weight (for the weighted reducer)", min_value=0.0, value=1.0, step=0.5)
            if st.form_submit_button("Add perspective"):
                try:
                    added = parse_custom({name.strip().lower(): {"description": description or name,
                                                                 "rubric": rubric, "weight": weight}})
                except ValueError as exc:
                    st.error(str(exc).capitalize())
                else:
                    st.session_state["custom_perspectives"].update(added)
                    st.session_state[key] = [*chosen, *added]
                    st.rerun()
    return list(chosen)


def engine_picker(config: Config, key: str) -> list[str]:
    options = engine_options(config)
    default = config.default_engines()[0]
    mode = st.radio("Engines", [ONE_FOR_ALL, MATRIX], key=f"{key}_mode", horizontal=True)
    if mode == ONE_FOR_ALL:
        st.session_state.setdefault(f"{key}_one", default)
        chosen = [st.selectbox("Engine", options, key=f"{key}_one", format_func=engine_label)]
    else:
        st.session_state.setdefault(f"{key}_many", [default])
        chosen = st.multiselect("Engines", options, key=f"{key}_many", format_func=engine_label)
    with st.expander("Use another engine id"):
        extra = st.text_input("Engine id", key=f"{key}_extra",
                              placeholder="openai:MODEL, anthropic:MODEL, a name from parallax.toml, sim:LABEL?latency=1")
        if st.button("Add engine", key=f"{key}_add") and extra.strip():
            st.session_state.setdefault("extra_engines", []).append(extra.strip())
            st.rerun()
    return [c for c in chosen if c]
