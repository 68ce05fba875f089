"""Where keys and configuration come from in the app: secrets, the environment, or the sidebar (session only)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

import streamlit as st

from components.safe import md_escape
from parallax.config import PROVIDER_KEYS, Config, ConfigError, default_prices, is_placeholder, load_config
from parallax.engines.check import check_engines, configured_engines

if TYPE_CHECKING:  # SQLAlchemy is imported when the history is first used, not with the page
    from parallax.run.execute import RunOutcome
    from parallax.run.plan import RunPlan
    from parallax.storage import Store

PROVIDER_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic"}


def _typed_keys() -> dict[str, str]:
    keys = (st.session_state.get(f"key_{name}", "") for name in PROVIDER_KEYS.values())
    return {name: value.strip() for name, value in zip(PROVIDER_KEYS.values(), keys, strict=True) if value.strip()}


def load_secrets() -> None:
    """Loading st.secrets copies its root-level strings into os.environ; a missing file is fine."""
    try:
        _ = "OPENAI_API_KEY" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file, or an unreadable one: run without it
        pass


def session_config() -> Config:
    """The configuration for this session: file + environment + keys typed in the sidebar + page perspectives."""
    env = {**os.environ, **_typed_keys()}
    try:
        config = load_config(env=env)
    except ConfigError as exc:
        st.error(f"parallax.toml was ignored: {md_escape(str(exc))}")
        config = Config(env=env, prices=default_prices())
    config.perspectives.update(st.session_state.get("custom_perspectives", {}))
    # The short names parallax.toml gives its engines: every view of this session shows them (charts included).
    st.session_state["engine_labels"] = {name: spec.label for name, spec in config.engines.items() if spec.label}
    return config


def engine_labels() -> dict[str, str]:
    """The labels parallax.toml gives its named engines, as this session's page last read them."""
    return dict(st.session_state.get("engine_labels") or {})


@st.cache_resource(show_spinner=False)
def _open_history(url: str) -> Store:
    """Once per process: open the history and mark runs a killed process left `running` as interrupted.
    A failure raises, and Streamlit caches only a success: the next attempt really tries again."""
    from parallax.storage import open_store

    store = open_store(url)
    store.mark_interrupted()
    return store


RETRY_AFTER_S = (2.0, 5.0, 15.0, 30.0, 60.0)  # while the history is unreachable, try again this much later


def history_store(now: bool = False) -> Store | None:
    """The history database, or None (with the reason in session state) while it cannot be reached. Tries again
    with backoff (at once with `now`); when it is back, runs kept in this session meanwhile are saved."""
    from parallax.storage import StorageError, database_url

    failures, retry_at = st.session_state.get("history_down", (0, 0.0))
    if failures and not now and time.monotonic() < retry_at:
        return None
    try:
        store = _open_history(database_url())
    except StorageError as exc:
        st.session_state["history_error"] = str(exc)
        delay = RETRY_AFTER_S[min(failures, len(RETRY_AFTER_S) - 1)]
        st.session_state["history_down"] = (failures + 1, time.monotonic() + delay)
        return None
    st.session_state.pop("history_down", None)
    st.session_state.pop("history_error", None)
    _save_unsaved(store)
    return store


def keep_unsaved(plan: RunPlan, outcome: RunOutcome) -> None:
    """A run the history could not take: kept in this session until the history is back (never dropped)."""
    st.session_state.setdefault("unsaved_runs", []).append((plan, outcome))


def _save_unsaved(store: Store) -> None:
    from parallax.storage import StorageError
    from parallax.storage.history import save_run

    pending = st.session_state.get("unsaved_runs") or []
    while pending:
        plan, outcome = pending[0]
        try:
            save_run(store, plan, outcome)
        except StorageError as exc:
            st.session_state["history_error"] = str(exc)
            return
        pending.pop(0)
        st.toast(f"Saved run {outcome.run_id} to the history now that it is reachable again.")


def provider_sidebar() -> None:
    """Which providers are configured, and password fields to add a key for this session only."""
    typed = _typed_keys()
    with st.sidebar:
        st.subheader("Providers")
        for provider, variable in PROVIDER_KEYS.items():
            name = PROVIDER_NAMES[provider]
            if is_placeholder(os.environ.get(variable, "")):
                st.markdown(f":orange[:material/warning:] **{name}** — `{variable}` holds a placeholder, not a "
                            "key (an example file copied unedited?): not used")
            elif os.environ.get(variable, "").strip():
                st.markdown(f":green[:material/check_circle:] **{name}** — key from secrets or environment")
            elif variable in typed:
                st.markdown(f":green[:material/check_circle:] **{name}** — key typed for this session")
            else:
                st.markdown(f":gray[:material/radio_button_unchecked:] **{name}** — not configured")
        # The translation services: configured by the environment (or secrets) only.
        for name, variable, what in (("DeepL", "DEEPL_AUTH_KEY", "key"), ("LibreTranslate", "LIBRETRANSLATE_URL",
                                                                          "server")):
            value = os.environ.get(variable, "").strip()
            if value and not is_placeholder(value):
                st.markdown(f":green[:material/check_circle:] **{name}** — {what} from secrets or environment")
            else:
                st.markdown(f":gray[:material/radio_button_unchecked:] **{name}** — not configured "
                            f"(`{variable}`)")
        with st.expander("Add a key for this session"):
            st.caption("Kept in this browser session only: never stored, logged or shown again.")
            for provider, variable in PROVIDER_KEYS.items():
                st.text_input(f"{PROVIDER_NAMES[provider]} API key", type="password", key=f"key_{variable}")
        st.markdown(":green[:material/check_circle:] **Keyword checks (offline)** — always available, no AI: "
                    "word and pattern checks, not a reviewer")
        engines_sidebar()


def engines_sidebar() -> None:
    """The named servers of parallax.toml, and a check that each answers one tiny structured request."""
    config = session_config()
    if not config.engines:
        return
    ids = [e.engine_id for e in configured_engines(config) if not e.engine_id.startswith("offline:")]
    st.subheader("Engines from parallax.toml")
    notice = config.working_folder_notice()
    if notice:  # a file nobody named: say whose servers these engines talk to
        st.warning(md_escape(notice[:1].upper() + notice[1:]), icon=":material/warning:")
    for name, spec in config.engines.items():
        st.text(f"{name} — {spec.model} at {spec.base_url}")
    with st.expander("Check engines"):
        st.caption("Sends one tiny structured request to each configured engine (paid ones cost a fraction of a "
                   "cent) and shows the structured-output mode that worked.")
        if st.button("Check now", key="engines_check", icon=":material/network_check:"):
            with st.spinner("Asking each engine…"):
                results = asyncio.run(check_engines(config, ids))
            st.session_state["engines_checked"] = [
                {"engine": r.engine, "status": r.status, "structured": r.structured_mode or "–",
                 "latency_s": None if r.latency_ms is None else round(r.latency_ms / 1000, 2),
                 "detail": r.error or "answered"} for r in results]
        checked = st.session_state.get("engines_checked")
        if checked:
            st.dataframe(checked, hide_index=True)
