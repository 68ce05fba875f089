"""What a run will cost before it runs: tokens from the prompt's size, dollars from the price table."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .engines.base import Request
from .judgement import review_request
from .run import RunPlan
from .translation import translation_request

CHARS_PER_TOKEN = 4  # a rough rule for English; tiktoken would need a download
EXPECTED_REVIEW_TOKENS = 500
TRANSLATION_GROWTH = 1.3  # a translation is often longer than its source
JUDGE_TOKENS_PER_TRANSLATION = 150


def usd(value: float | None) -> str:
    """Dollars with two significant digits however small ($0.0000038, $0.012, $1.50): never "3.76μ", never a
    "$0.00000" that reads as free. None is unknown."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    decimals = max(2, 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return "$" + (text.rstrip("0").rstrip(".") if decimals > 2 else text)


def estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0


def _prompt_tokens(request: Request) -> int:
    return estimate_tokens(request.system + "".join(m.content for m in request.messages))


@dataclass(frozen=True)
class Estimate:
    branches: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when some paid engine has no price
    unpriced: tuple[str, ...]


def estimate_run(plan: RunPlan) -> Estimate:
    """Branches × tokens × price, summed, plus the judge's calls. Fallback engines are not counted: they are
    only called when the first one fails. Free engines cost 0; engines without a price are listed."""
    calls: list[tuple[str, int, int]] = []  # (engine id, input tokens, output tokens)
    for spec in plan.branches:
        first = spec.engine.split("|")[0]
        if plan.settings is not None:
            tokens_in = _prompt_tokens(translation_request(plan.document, plan.settings))
            calls.append((first, tokens_in, round(estimate_tokens(plan.document) * TRANSLATION_GROWTH)))
        else:
            request = review_request(plan.document, plan.config.perspectives[spec.perspective])
            calls.append((first, _prompt_tokens(request), EXPECTED_REVIEW_TOKENS))
    if plan.settings is not None and plan.settings.judge:
        translations = sum(out for _, _, out in calls)
        judged_in = estimate_tokens(plan.document) + translations + 300
        judged_out = JUDGE_TOKENS_PER_TRANSLATION * len(plan.branches)
        calls += [(plan.settings.judge, judged_in, judged_out)] * plan.settings.judge_samples
    cost = 0.0
    unpriced: list[str] = []
    for engine_id, tokens_in, tokens_out in calls:
        price = plan.config.price(engine_id)
        if plan.engines[engine_id].free:
            continue
        if price is None:
            unpriced += [engine_id] if engine_id not in unpriced else []
            continue
        cost += (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6
    return Estimate(len(plan.branches), sum(c[1] for c in calls), sum(c[2] for c in calls),
                    None if unpriced else cost, tuple(unpriced))
