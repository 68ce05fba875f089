"""The engine registry: namespaced ids resolved to engine objects; SDKs are imported only when used."""

from __future__ import annotations

from parallax.config import PROVIDER_KEYS, Config
from parallax.engines.base import Engine, Event, Finish, Message, Request, Task, Usage
from parallax.limits import slots_for

__all__ = ["Engine", "EngineError", "Event", "Finish", "Message", "Request", "Task", "Usage", "resolve_engine"]

FORMS = (
    "openai:MODEL (key OPENAI_API_KEY; base URL OPENAI_BASE_URL)",
    "anthropic:MODEL (key ANTHROPIC_API_KEY; base URL ANTHROPIC_BASE_URL)",
    "offline:rules (keyword and pattern checks for reviews; no network, no AI)",
    "offline:pseudo (pseudo-localisation, not a translation)",
    "deepl (key DEEPL_AUTH_KEY; server DEEPL_SERVER_URL)",
    "libretranslate (server LIBRETRANSLATE_URL; key LIBRETRANSLATE_API_KEY)",
    "sim:LABEL?latency=S&tokens=N&rate=TPS&fail=error|timeout|truncate|ratelimit&score=X (demo)",
    "NAME of an [engines.NAME] table in parallax.toml",
)


class EngineError(ValueError):
    """An engine id that cannot be used; the message says why and what would work."""


def valid_forms(config: Config) -> str:
    named = ", ".join(sorted(config.engines)) or "none configured"
    return "valid forms: " + "; ".join(FORMS) + f" (named engines: {named})"


def resolve_engine(engine_id: str, config: Config) -> Engine:
    """Build the engine for `engine_id`, or raise EngineError before any call is made."""
    engine_id = engine_id.strip()
    prefix, sep, rest = engine_id.partition(":")
    if not sep:  # the built-ins first: a named engine never stands in for one (load_config refuses the names too)
        if engine_id == "deepl":
            return _deepl(config)
        if engine_id == "libretranslate":
            return _libretranslate(config)
        if engine_id in config.engines:
            return _named(engine_id, config)
        raise EngineError(f"unknown engine {engine_id!r}; {valid_forms(config)}")
    if prefix == "offline":
        if rest == "rules":
            from parallax.engines.offline import OfflineRulesEngine

            return OfflineRulesEngine()
        if rest == "pseudo":
            from parallax.engines.pseudo import PseudoEngine

            return PseudoEngine()
        raise EngineError(f"unknown offline engine {engine_id!r}; use offline:rules or offline:pseudo")
    if prefix == "sim":
        from parallax.engines.sim import SimEngine, parse_sim

        try:
            return SimEngine(engine_id, parse_sim(rest))
        except ValueError as exc:
            raise EngineError(f"{engine_id}: {exc}") from None
    if prefix in PROVIDER_KEYS:
        if not rest:
            raise EngineError(f"{engine_id!r} needs a model name, e.g. {prefix}:MODEL")
        key = config.key(prefix)
        if key is None:
            raise EngineError(f"{engine_id} needs {PROVIDER_KEYS[prefix]} to be set (in the environment or secrets)")
        try:
            limit = config.provider_concurrency.get(prefix)
            slots = slots_for(f"provider:{prefix}", limit) if limit else None
            if prefix == "openai":
                from parallax.engines.openai_engine import OpenAIEngine

                return OpenAIEngine(engine_id, rest, api_key=key, base_url=config.env.get("OPENAI_BASE_URL") or None,
                                    slots=slots)
            from parallax.engines.anthropic_engine import AnthropicEngine

            return AnthropicEngine(engine_id, rest, api_key=key, base_url=config.env.get("ANTHROPIC_BASE_URL") or None,
                                   slots=slots)
        except ImportError as exc:
            raise EngineError(f"{engine_id} is unavailable: the {exc.name} package is not installed") from None
    raise EngineError(f"unknown engine {engine_id!r}; {valid_forms(config)}")


def _deepl(config: Config) -> Engine:
    key = config.env.get("DEEPL_AUTH_KEY", "").strip()
    if not key:
        raise EngineError("deepl needs DEEPL_AUTH_KEY to be set (in the environment or secrets)")
    try:
        from parallax.engines.deepl_engine import DeepLEngine

        return DeepLEngine(key, config.env.get("DEEPL_SERVER_URL") or None)
    except ImportError:
        raise EngineError("deepl is unavailable: the deepl package is not installed") from None


def _libretranslate(config: Config) -> Engine:
    from parallax.engines.libretranslate import LibreTranslateEngine

    url = config.env.get("LIBRETRANSLATE_URL", "").strip()
    if not url:
        raise EngineError("libretranslate needs LIBRETRANSLATE_URL (your server, e.g. http://localhost:5000)")
    return LibreTranslateEngine(url, config.env.get("LIBRETRANSLATE_API_KEY") or None)


def _named(name: str, config: Config) -> Engine:
    from parallax.engines.openai_engine import OpenAIEngine

    spec = config.engines[name]
    key = "not-needed"  # local servers ignore the key, but the SDK insists on one
    if spec.api_key_env:
        key = config.env.get(spec.api_key_env, "").strip()
        if not key:
            raise EngineError(f"engine {name!r} needs {spec.api_key_env} to be set")
    return OpenAIEngine(
        name, spec.model, api_key=key, base_url=spec.base_url, provider=name,
        token_param=spec.token_limit_param, structured=spec.structured,
        slots=slots_for(f"engine:{name}", spec.max_concurrency) if spec.max_concurrency else None,
        interrupted_hint="" if spec.max_concurrency == 1 else (
            " — a server that handles one request at a time (llama-cpp-python) ends a running reply when another "
            f"request arrives: set max_concurrency = 1 in [engines.{name}]"),
    )
