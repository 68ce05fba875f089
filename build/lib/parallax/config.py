"""Settings from the environment and the optional `parallax.toml`: named engines, custom perspectives, prices."""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .perspectives import BUILTIN, Perspective, parse_custom

MAX_CHARS = int(os.environ.get("PARALLAX_MAX_CHARS", "200000"))
DEFAULT_TIMEOUT_S = 120.0
PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# Every environment variable that may hold a secret: scrubbed from any message we show or store.
SECRET_VARIABLES = (*PROVIDER_KEYS.values(), "DEEPL_AUTH_KEY", "LIBRETRANSLATE_API_KEY")
DEFAULT_MODELS = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-haiku-4-5"}
SUGGESTED_MODELS = {
    "openai": ["openai:gpt-4o-mini", "openai:gpt-4.1-mini", "openai:gpt-4o"],
    "anthropic": ["anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5"],
}
# Simulated engines offered in the app's "Demo" group: they show the pattern with no key and no cost.
DEMO_TRANSLATORS = [
    "sim:alpha?latency=0.5&tokens=40&rate=30",
    "sim:beta?latency=1&tokens=40&rate=20",
    "sim:down?latency=0.3&fail=error|sim:backup?latency=0.3&tokens=30&rate=30",
]
DEMO_JUDGE = "sim:judge?latency=0.5&tokens=20&rate=40"
DEMO_ENGINES = [
    "sim:quick?latency=0.3&tokens=60&rate=60",
    "sim:steady?latency=1&tokens=80&rate=40",
    "sim:slow?latency=2&tokens=100&rate=30",
    "sim:flaky?latency=0.8&tokens=40&rate=40&fail=error",
]


class ConfigError(ValueError):
    """The configuration file is wrong; the message says where."""


@dataclass(frozen=True)
class NamedEngine:
    """An OpenAI-compatible server declared in `[engines.NAME]`: configuration, not code."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    price_input: float | None = None
    price_output: float | None = None
    structured: str = "auto"  # json_schema | json_object | tool | prompt; auto: find out on first use
    token_limit_param: str = "max_tokens"  # most servers other than OpenAI's read only max_tokens
    max_concurrency: int | None = None  # calls at once to this server, across every run of the process


STRUCTURED_MODES = ("auto", "json_schema", "json_object", "tool", "prompt")
TOKEN_LIMIT_PARAMS = ("max_tokens", "max_completion_tokens")
_ENGINE_KEYS = ("base_url", "model", "api_key_env", "price_input", "price_output", "structured",
                "token_limit_param", "max_concurrency")


_PLACEHOLDER = re.compile(r"^(?:<[^>]*>|your[-_ ].*|.*[-_ ]here|.*(?:\.\.\.|…)|x{3,}|changeme|placeholder.*|"
                         r"sk-x+|replace[-_ ]?me|todo|none|null|optional)$", re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    """ "your-openai-key", "<key>", "sk-...", "changeme"…: text meant to be replaced, not a key."""
    return bool(value.strip()) and _PLACEHOLDER.match(value.strip()) is not None


@dataclass
class Config:
    engines: dict[str, NamedEngine] = field(default_factory=dict)
    # [providers.openai] max_concurrency = N: at most N calls at once to that provider.
    provider_concurrency: dict[str, int] = field(default_factory=dict)
    perspectives: dict[str, Perspective] = field(default_factory=lambda: dict(BUILTIN))
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    source: Path | None = None

    def key(self, provider: str) -> str | None:
        """The provider's API key from the environment (never logged or shown); an obvious placeholder (an
        example file copied unedited) is no key."""
        value = self.env.get(PROVIDER_KEYS[provider], "").strip()
        return value if value and not is_placeholder(value) else None

    def placeholder_keys(self) -> list[str]:
        """The key variables that hold a placeholder instead of a key: said on the page and by `engines`."""
        return [v for v in (*PROVIDER_KEYS.values(), "DEEPL_AUTH_KEY") if is_placeholder(self.env.get(v, ""))]

    def configured_providers(self) -> list[str]:
        return [p for p in PROVIDER_KEYS if self.key(p)]

    def default_engines(self) -> list[str]:
        """The first configured provider's default model, else the offline reviewer."""
        providers = self.configured_providers()
        return [DEFAULT_MODELS[providers[0]]] if providers else ["offline:rules"]

    def default_translation_engines(self) -> list[str]:
        """Every configured translation service and LLM, else pseudo-localisation (clearly not a translation)."""
        engines = [DEFAULT_MODELS[p] for p in self.configured_providers()]
        if self.env.get("DEEPL_AUTH_KEY", "").strip() and not is_placeholder(self.env["DEEPL_AUTH_KEY"]):
            engines.append("deepl")
        if self.env.get("LIBRETRANSLATE_URL", "").strip():
            engines.append("libretranslate")
        return engines or ["offline:pseudo"]

    def default_judge(self) -> str | None:
        providers = self.configured_providers()
        return DEFAULT_MODELS[providers[0]] if providers else None

    def price(self, engine_id: str) -> dict[str, float] | None:
        return self.prices.get(engine_id)


def default_prices() -> dict[str, dict[str, float]]:
    with open(Path(__file__).with_name("prices.toml"), "rb") as f:
        return tomllib.load(f)


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read `path`, else $PARALLAX_CONFIG, else ./parallax.toml if it exists."""
    env = dict(os.environ) if env is None else env
    config = Config(env=env, prices=default_prices())
    chosen = path or env.get("PARALLAX_CONFIG") or ("parallax.toml" if Path("parallax.toml").exists() else None)
    if not chosen:
        return config
    source = Path(chosen)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {source} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None
    config.source = source
    for name, spec in (data.get("engines") or {}).items():
        config.engines[name] = _named_engine(name, spec, source)
    try:
        config.perspectives.update(parse_custom(data.get("perspectives") or {}))
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    for provider, spec in (data.get("providers") or {}).items():
        where = f"{source}: [providers.{provider}]"
        if provider not in PROVIDER_KEYS:
            raise ConfigError(f"{where}: unknown provider; use one of {', '.join(PROVIDER_KEYS)}")
        if not isinstance(spec, dict) or set(spec) - {"max_concurrency"}:
            raise ConfigError(f"{where}: the only setting is max_concurrency")
        if "max_concurrency" in spec:
            config.provider_concurrency[provider] = _concurrency(spec["max_concurrency"], where)
    for engine_id, price in (data.get("prices") or {}).items():
        config.prices[engine_id] = _price(price, f'{source}: [prices."{engine_id}"]')
    for named in config.engines.values():
        if named.price_input is not None and named.price_output is not None:
            config.prices[named.name] = {"input": named.price_input, "output": named.price_output}
    return config


def is_price(value: Any) -> bool:
    """A price in USD per 1M tokens: a finite number, 0 or more (a string, nan, inf or a negative is not)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value < math.inf


def _price(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict) or not all(is_price(value.get(k)) for k in ("input", "output")):
        raise ConfigError(f"{where} needs input and output prices: finite numbers ≥ 0 (USD per 1M tokens), "
                          f"got {value!r}")
    return {"input": float(value["input"]), "output": float(value["output"])}


def _concurrency(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: max_concurrency must be a whole number of at least 1, not {value!r}")
    return value


def _named_engine(name: str, spec: Any, source: Path) -> NamedEngine:
    where = f"{source}: [engines.{name}]"
    if ":" in name or "|" in name or "?" in name:
        raise ConfigError(f"{source}: engine name {name!r} may not contain ':', '|' or '?'")
    if not isinstance(spec, dict) or not spec.get("base_url") or not spec.get("model"):
        raise ConfigError(f"{where} needs base_url and model")
    unknown = sorted(set(spec) - set(_ENGINE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; valid settings: {', '.join(_ENGINE_KEYS)}")
    structured = spec.get("structured", "auto")
    if structured not in STRUCTURED_MODES:
        raise ConfigError(f"{where}: structured = {structured!r}; use one of {', '.join(STRUCTURED_MODES)}")
    token_param = spec.get("token_limit_param", "max_tokens")
    if token_param not in TOKEN_LIMIT_PARAMS:
        raise ConfigError(f"{where}: token_limit_param = {token_param!r}; use one of {', '.join(TOKEN_LIMIT_PARAMS)}")
    for price in ("price_input", "price_output"):
        value = spec.get(price)
        if value is not None and not is_price(value):
            raise ConfigError(f"{where}: {price} must be a number of USD per 1M tokens (0 or more), not {value!r}")
    limit = spec.get("max_concurrency")
    return NamedEngine(
        name=name,
        base_url=str(spec["base_url"]),
        model=str(spec["model"]),
        api_key_env=spec.get("api_key_env"),
        price_input=spec.get("price_input"),
        price_output=spec.get("price_output"),
        structured=structured,
        token_limit_param=token_param,
        max_concurrency=None if limit is None else _concurrency(limit, where),
    )
