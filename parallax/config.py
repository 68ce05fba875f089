"""Settings from the environment and the optional `parallax.toml`: named engines, custom perspectives, prices."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError

from parallax.perspectives import BUILTIN, Perspective, PerspectiveSpec, custom_perspective
from parallax.validation import problem

DEFAULT_TIMEOUT_S = 120.0
PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# Every environment variable that may hold a secret: scrubbed from any message we show or store.
SECRET_VARIABLES = (*PROVIDER_KEYS.values(), "DEEPL_AUTH_KEY", "LIBRETRANSLATE_API_KEY")
# The built-in engine ids and id prefixes (see parallax/engines/__init__.py): no `[engines.NAME]` table may take one
# (in any case), or a card saying "deepl" could be a file's server receiving the document and the DeepL key.
BUILTIN_ENGINE_NAMES = (*PROVIDER_KEYS, "offline", "sim", "deepl", "libretranslate")
# What `api_key_env` may name: a variable the user set for Parallax (PARALLAX_VLLM_API_KEY, PARALLAX_BOX_TOKEN).
# Any other variable — AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, OPENAI_API_KEY, the key of another server — belongs to
# another program, and a parallax.toml someone else wrote must not be able to send it to its own base_url.
KEY_VARIABLE = re.compile(r"PARALLAX_(?:[A-Z0-9]+_)*(?:API_KEY|TOKEN)")

DEFAULT_MODELS = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-haiku-4-5"}
SUGGESTED_MODELS = {
    "openai": ["openai:gpt-4o-mini", "openai:gpt-4.1-mini", "openai:gpt-4o"],
    "anthropic": ["anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5"],
}
# Simulated engines offered in the app's "Demo" group: they show the pattern with no key and no cost.
DEMO_TRANSLATORS = [
    "sim:alpha?latency=0.5&tokens=60&rate=30",
    "sim:beta?latency=1&tokens=60&rate=20",
    "sim:down?latency=0.3&fail=error|sim:backup?latency=0.3&tokens=30&rate=30",
]
DEMO_JUDGE = "sim:judge?latency=0.5&tokens=20&rate=40"
DEMO_ENGINES = [
    "sim:quick?latency=0.3&tokens=60&rate=60",
    "sim:steady?latency=1&tokens=80&rate=40",
    "sim:slow?latency=2&tokens=100&rate=30",
    "sim:flaky?latency=0.8&tokens=40&rate=40&fail=error",
]


# Settings from the environment are read when used, never at import: a variable set after Parallax was imported (by
# a test, a notebook, a server's start-up) is obeyed, and nothing is written where an earlier value pointed.
def max_chars(env: Mapping[str, str] | None = None) -> int:
    """The longest text Parallax takes, in characters (PARALLAX_MAX_CHARS)."""
    return int((os.environ if env is None else env).get("PARALLAX_MAX_CHARS", "200000"))


def parallax_home(env: Mapping[str, str] | None = None) -> Path:
    """Parallax's own folder (PARALLAX_HOME, default ~/.parallax): the history, the batch page's files."""
    given = (os.environ if env is None else env).get("PARALLAX_HOME")
    return Path(given) if given else Path.home() / ".parallax"


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
    label: str | None = None  # the short name the app shows for it (column headers, chips, charts)


def _http_url(value: str) -> str:
    """A clean http(s) address, checked when the file is read (not at the first call): no spaces or control
    characters (a CR LF would write headers of its own), a host, a port that is a number, no user:password@."""
    bad = "must be an http:// or https:// address, e.g. http://localhost:11434/v1"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{bad}, without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(bad)
    if "@" in parts.netloc:  # the password would go out with every call and show in every message: never repeated
        raise PydanticCustomError("url_credentials", "must not carry a user name or password (user:password@); "
                                  "put the key in a variable named by api_key_env", {"hide_value": True})
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{bad}, with a port from 1 to 65535") from None
    if not parts.hostname or port == 0:
        raise ValueError(f"{bad}, with a host name and a port from 1 to 65535")
    return value


def _variable_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError("must be the name of an environment variable (e.g. PARALLAX_VLLM_API_KEY), never the key "
                         "itself")
    if not KEY_VARIABLE.fullmatch(value):
        raise ValueError("must name a variable set for Parallax: PARALLAX_…_API_KEY or PARALLAX_…_TOKEN (e.g. "
                         "PARALLAX_VLLM_API_KEY), so that a parallax.toml cannot send another program's key "
                         "(AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, OPENAI_API_KEY…) to its server")
    return value


class _Strict(BaseModel):
    """A table of parallax.toml: no unknown settings, no strings where numbers belong."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)  # built when a file is read


Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # USD per 1M tokens
AtLeastOne = Annotated[int, Field(ge=1)]


class EngineSpec(_Strict):
    base_url: Annotated[str, AfterValidator(_http_url)]
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    api_key_env: Annotated[str, AfterValidator(_variable_name)] | None = None
    price_input: Price | None = None
    price_output: Price | None = None
    structured: Literal["auto", "json_schema", "json_object", "tool", "prompt"] = "auto"
    token_limit_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_concurrency: AtLeastOne | None = None
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None


class ProviderSpec(_Strict):
    max_concurrency: AtLeastOne | None = None


class PriceSpec(_Strict):
    input: Price
    output: Price


class ConfigFile(_Strict):
    """The whole of parallax.toml."""

    engines: dict[str, EngineSpec] = {}
    perspectives: dict[str, PerspectiveSpec] = {}
    providers: dict[str, ProviderSpec] = {}
    prices: dict[str, PriceSpec] = {}


_TABLES: dict[str, type[BaseModel]] = {"engines": EngineSpec, "perspectives": PerspectiveSpec,
                                       "providers": ProviderSpec, "prices": PriceSpec}


def explain(exc: ValidationError, source: Path | str, text: str) -> str:
    """The first problem as one sentence: the file, the line, the table and setting, what is wrong, and the valid
    settings when the name is unknown."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    table, key = (loc[:2], loc[2:]) if len(loc) >= 2 else ([], loc)
    model: type[BaseModel] = _TABLES.get(loc[0], ConfigFile) if table else ConfigFile
    where = "[" + ".".join(p if re.fullmatch(r"[\w-]+", p) else f'"{p}"' for p in table) + "] " if table else ""
    line = _line_of(text, table, key[:1])
    return f"{source}{f', line {line}' if line else ''}: {where}{problem(error, '.'.join(key), model.model_fields)}"


def _line_of(text: str, table: list[str], key: list[str]) -> int | None:
    """The line of a setting in the TOML text (after its table's header), or of the table itself."""
    lines = text.splitlines()
    start = 0
    if table:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(f'"?{re.escape(p)}"?' for p in table) + r"\s*\]")
        start = next((i for i, line in enumerate(lines) if header.match(line)), -1)
        if start < 0:
            return None
    if not key:
        return start + 1 if table else None
    setting = re.compile(rf'^\s*(?:"?{re.escape(key[0])}"?\s*=|\[\s*"?{re.escape(key[0])}"?\s*[.\]])')
    for i in range(start, len(lines)):
        if table and i > start and lines[i].lstrip().startswith("["):
            break
        if setting.match(lines[i]):
            return i + 1
    return start + 1 if table else None


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
    found_here: bool = False  # source is ./parallax.toml, found in the working folder (not named by the user)

    def working_folder_notice(self) -> str | None:
        """When a parallax.toml the user did not name (found in the working folder) defines engines: which file,
        and whose servers they talk to. Said on standard error and on the app's pages."""
        if not (self.found_here and self.source and self.engines):
            return None
        servers = ", ".join(f"{name} → {spec.base_url}" for name, spec in self.engines.items())
        return f"using {self.source.resolve()} from the working folder; its engines send text to: {servers}"

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

    def default_judge(self, candidates: Sequence[str] = ()) -> str | None:
        """A configured provider's model that is not one of the candidates (a judge prefers its own output), else
        the first provider's default (the run then says the judge is judging itself); None with no provider."""
        providers = self.configured_providers()
        models = [m for p in providers for m in (DEFAULT_MODELS[p], *SUGGESTED_MODELS[p])]
        judged = {part for c in candidates for part in c.split("|")}
        return next((m for m in models if m not in judged), DEFAULT_MODELS[providers[0]] if providers else None)

    def price(self, engine_id: str) -> dict[str, float] | None:
        return self.prices.get(engine_id)


def default_prices() -> dict[str, dict[str, float]]:
    with open(Path(__file__).with_name("prices.toml"), "rb") as f:
        return tomllib.load(f)


def _check_engine_names(engines: object, source: Path, text: str) -> None:
    """An engine name that is not a plain name, or that a built-in engine already has: a ConfigError naming the
    table and its line (before its settings are checked: the name is the first thing wrong)."""
    for name in engines if isinstance(engines, dict) else ():
        line = _line_of(text, ["engines", name], [])
        where = f"{source}{f', line {line}' if line else ''}: [engines.{name}]"
        if ":" in name or "|" in name or "?" in name:
            raise ConfigError(f"{where} engine name {name!r} may not contain ':', '|' or '?'")
        if name.strip().casefold() in BUILTIN_ENGINE_NAMES:
            raise ConfigError(f"{where} {name!r} is a built-in engine: a configuration file cannot redefine it "
                              f"(its key would go to this file's server); give the table another name, e.g. "
                              f"[engines.my-{name.strip().lower()}]")


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read `path`, else $PARALLAX_CONFIG, else ./parallax.toml if it exists. Anything wrong in it — a typo in a
    setting, a wrong type, a bad URL — is a ConfigError naming the file, the line and the valid settings."""
    env = dict(os.environ) if env is None else env
    config = Config(env=env, prices=default_prices())
    given = path or env.get("PARALLAX_CONFIG")
    chosen = given or ("parallax.toml" if Path("parallax.toml").exists() else None)
    if not chosen:
        return config
    source = Path(chosen)
    try:
        text = source.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file {source} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None
    _check_engine_names(data.get("engines"), source, text)
    try:
        parsed = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain(exc, source, text)) from None
    config.source, config.found_here = source, not given
    for name, spec in parsed.engines.items():
        config.engines[name] = NamedEngine(name=name, **spec.model_dump())
    try:
        config.perspectives.update({name: custom_perspective(name, spec) for name, spec in parsed.perspectives.items()})
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    for provider, limits in parsed.providers.items():
        if provider not in PROVIDER_KEYS:
            raise ConfigError(f"{source}: [providers.{provider}]: unknown provider; use one of "
                              f"{', '.join(PROVIDER_KEYS)}")
        if limits.max_concurrency is not None:
            config.provider_concurrency[provider] = limits.max_concurrency
    for engine_id, price in parsed.prices.items():
        config.prices[engine_id] = price.model_dump()
    for named in config.engines.values():
        if named.price_input is not None and named.price_output is not None:
            config.prices[named.name] = {"input": named.price_input, "output": named.price_output}
    return config

