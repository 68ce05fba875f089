"""What a run will cost before it runs: tokens from the prompt's size, dollars from the price table."""

from __future__ import annotations

from dataclasses import dataclass

from .judgement import review_request
from .run import RunPlan

CHARS_PER_TOKEN = 4  # a rough rule for English; tiktoken would need a download
EXPECTED_OUTPUT_TOKENS = 500


def estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0


@dataclass(frozen=True)
class Estimate:
    branches: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when some paid engine has no price
    unpriced: tuple[str, ...]


def estimate_run(plan: RunPlan) -> Estimate:
    """Branches × tokens × price, summed. Free engines cost 0; engines without a price are listed."""
    total_in = total_out = 0
    cost = 0.0
    unpriced: list[str] = []
    for spec in plan.branches:
        request = review_request(plan.document, plan.config.perspectives[spec.perspective])
        tokens_in = estimate_tokens(request.system + "".join(m.content for m in request.messages))
        total_in += tokens_in
        total_out += EXPECTED_OUTPUT_TOKENS
        engine = plan.engines[spec.engine]
        price = plan.config.price(spec.engine)
        if engine.free:
            continue
        if price is None:
            if spec.engine not in unpriced:
                unpriced.append(spec.engine)
            continue
        cost += (tokens_in * price["input"] + EXPECTED_OUTPUT_TOKENS * price["output"]) / 1e6
    return Estimate(len(plan.branches), total_in, total_out, None if unpriced else cost, tuple(unpriced))
