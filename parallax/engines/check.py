"""The engines a user has configured, and a check that each really answers: one tiny structured request apiece.

The first thing to do after writing `[engines.local]`: it shows the structured-output mode that worked, the
latency and the tokens, or the server's own error message — before a real run spends anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from parallax.config import DEFAULT_MODELS, Config
from parallax.delimit import delimit
from parallax.engines.base import Engine, Message, Request, Task
from parallax.engines.registry import EngineError, resolve_engine
from parallax.results import BranchResult, BranchSpec
from parallax.review.judgement import SCHEMA, read_judgement
from parallax.run.branch import BranchJob, run_branch

CHECK_DOCUMENT = "Parallax engine check. This sentence is the whole document."


@dataclass(frozen=True)
class ConfiguredEngine:
    engine_id: str
    where: str  # the server, or what the engine is
    settings: str  # structured mode, concurrency, price: what the config says


def configured_engines(config: Config) -> list[ConfiguredEngine]:
    """Named servers from parallax.toml, providers with a key, translation services, the offline engines."""
    listed = []
    for name, spec in config.engines.items():
        price = config.price(name)
        settings = [f"structured {spec.structured}", f"limit param {spec.token_limit_param}",
                    f"max_concurrency {spec.max_concurrency or 'unlimited'}",
                    "price unknown" if price is None else f"${price['input']:g}/${price['output']:g} per 1M tokens"]
        listed.append(ConfiguredEngine(name, f"{spec.base_url} · model {spec.model}", ", ".join(settings)))
    for provider in config.configured_providers():
        limit = config.provider_concurrency.get(provider)
        listed.append(ConfiguredEngine(DEFAULT_MODELS[provider], f"{provider} (key set)",
                                       f"max_concurrency {limit or 'unlimited'}"))
    if config.env.get("DEEPL_AUTH_KEY", "").strip():
        listed.append(ConfiguredEngine("deepl", "DeepL (key set)", "translation only"))
    if config.env.get("LIBRETRANSLATE_URL", "").strip():
        listed.append(ConfiguredEngine("libretranslate", config.env["LIBRETRANSLATE_URL"], "translation only"))
    listed.append(ConfiguredEngine("offline:rules", "this machine", "keyword and pattern checks, reviews only"))
    listed.append(ConfiguredEngine("offline:pseudo", "this machine", "pseudo-localisation, not a translation"))
    return listed


def engine_check_request(engine: Engine) -> Request:
    """A tiny structured review for engines that review; a one-line translation for translation services."""
    if "review" in engine.kinds:
        prompt = (f"{delimit('document', CHECK_DOCUMENT)}\n\nReview it in one short sentence. Answer with the "
                  "JSON object: summary, strengths, issues (an empty list is fine), score 0-10, confidence 0-1.")
        return Request(system="You answer only with the JSON object asked for.",
                       messages=(Message("user", prompt),), task=Task("review", CHECK_DOCUMENT, "check"),
                       schema=SCHEMA, max_tokens=300)
    return Request(system="", messages=(Message("user", CHECK_DOCUMENT),),
                   task=Task("translate", CHECK_DOCUMENT, source="en", target="de"), max_tokens=100)


async def check_engines(config: Config, engine_ids: Sequence[str], timeout_s: float = 60.0) -> list[BranchResult]:
    """Each engine answers one tiny request, all at once (within each engine's own concurrency limit).

    An id that cannot be built comes back as an error result: nothing is called for it."""
    from parallax.run.execute import secret_values

    loop = asyncio.get_running_loop()

    async def one(order: int, engine_id: str) -> BranchResult:
        spec = BranchSpec(engine_id, order, "check", engine_id)
        try:
            engine = resolve_engine(engine_id, config)
        except EngineError as exc:
            return BranchResult(engine_id, order, engine_id, "check", status="error", error=str(exc))
        request = engine_check_request(engine)
        job = BranchJob(spec, request, (engine,), timeout_s, loop.time(), config.prices, secret_values(config),
                        read=read_judgement if request.schema is not None else None)
        return await run_branch(job, lambda _event: None)

    return list(await asyncio.gather(*(one(i, e) for i, e in enumerate(engine_ids))))
