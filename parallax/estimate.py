"""What a run will cost before it runs: tokens from the prompt's size, dollars from the price table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parallax.costs import usd as usd  # re-exported: the estimate's callers format dollars with it
from parallax.engines.base import Request
from parallax.review.judgement import review_request
from parallax.run.plan import RunPlan
from parallax.translate.judge import judge_calls, judge_request
from parallax.translate.request import TranslationSettings, translation_request
from parallax.translate.segments import split_sentences

CHARS_PER_TOKEN = 4  # Latin script; tokenizers need far fewer characters per token in other scripts (below)
# Characters per token by script, for OpenAI's and Anthropic's tokenizers (rounded towards more tokens: an estimate
# that errs, errs on the expensive side). No tokenizer package works offline for both providers' models; the
# provider's usage figures after a run are the truth.
SCRIPT_CHARS_PER_TOKEN = (
    (re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"), 1.0),  # Han, kana
    (re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"), 1.5),  # Hangul
    (re.compile(r"[\u0900-\u0dff\u0e00-\u0e7f\u1000-\u109f]"), 2.0),  # Indic scripts, Thai, Myanmar
    (re.compile(r"[\u0590-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufeff]"), 2.5),  # Hebrew, Arabic
    (re.compile(r"[\u0370-\u03ff\u0400-\u052f]"), 3.0),  # Greek, Cyrillic
)
TOKEN_METHOD = ("estimated from the characters: about 4 per token in Latin script, 3 in Cyrillic and Greek, 2.5 in "
                "Arabic and Hebrew, 2 in Indic scripts and Thai, 1.5 in Hangul, 1 in Chinese and Japanese")
EXPECTED_REVIEW_TOKENS = 500
TRANSLATION_GROWTH = 1.3  # a translation is often longer than its source
JUDGE_TOKENS_PER_TRANSLATION = 150  # a judge's reply, per translation in the call …
JUDGE_TOKENS_PER_SEGMENT = 40  # … or per translation and segment when that is more (up to the call's token limit)


def estimate_tokens(text: str) -> int:
    """Tokens a text takes, by script (see TOKEN_METHOD)."""
    if not text:
        return 0
    tokens, rest = 0.0, len(text)
    for pattern, chars_per_token in SCRIPT_CHARS_PER_TOKEN:
        count = len(pattern.findall(text))
        tokens, rest = tokens + count / chars_per_token, rest - count
    return max(1, round(tokens + rest / CHARS_PER_TOKEN))


def _prompt_tokens(request: Request) -> int:
    """Everything sent: the system prompt and every message (a judge's few-shot examples included)."""
    return estimate_tokens(request.system + "".join(m.content for m in request.messages))


def judge_tokens(document: str, settings: TranslationSettings, candidates: int) -> list[tuple[int, int]]:
    """(input, output) tokens of each judge call: the real judge requests built — system prompt, GEMBA-MQM's
    few-shot examples, the numbered source — with the source itself standing in for each translation (its tokens
    grown by TRANSLATION_GROWTH); as many calls as `judge_calls` says the protocol makes."""
    units = split_sentences(document, settings.source) or [document.strip()]
    n = judge_calls(settings, candidates, len(units))
    if not n:
        return []
    # What one call covers, by protocol: "segments", one translation on every segment; "single", one translation
    # on one segment; "compare", every translation on one segment.
    if settings.judge_protocol == "segments":
        shapes = [(list(range(len(units))), 1)]
    else:
        shapes = [([i], 1 if settings.judge_protocol == "single" else candidates) for i in range(len(units))]
    sizes = []
    fixed: int | None = None  # the system prompt and the few-shot turns: the same in every call
    for numbers, k in shapes:
        source = [units[i] for i in numbers]
        request = judge_request(document, settings, source, [(chr(65 + j), source) for j in range(k)], numbers)
        if fixed is None:
            fixed = estimate_tokens(request.system + "".join(m.content for m in request.messages[:-1]))
        grown = round((TRANSLATION_GROWTH - 1) * k * estimate_tokens(" ".join(source)))
        reply = min(request.max_tokens, k * max(JUDGE_TOKENS_PER_TRANSLATION, JUDGE_TOKENS_PER_SEGMENT * len(numbers)))
        sizes.append((fixed + estimate_tokens(request.messages[-1].content) + grown, reply))
    mean_in = sum(s[0] for s in sizes) / len(sizes)
    mean_out = sum(s[1] for s in sizes) / len(sizes)
    return [(round(mean_in), round(mean_out))] * n


@dataclass(frozen=True)
class Estimate:
    branches: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when some paid engine has no price
    unpriced: tuple[str, ...]


def estimate_run(plan: RunPlan, branch_price_factor: float = 1.0) -> Estimate:
    """Branches × tokens × price, summed, plus the judge's calls. Fallback engines are not counted: they are
    only called when the first one fails. Free engines cost 0; engines without a price are listed. With
    `branch_price_factor` 0.5, the branches are priced as a provider batch (the judge is called directly)."""
    calls: list[tuple[str, int, int]] = []  # (engine id, input tokens, output tokens)
    for spec in plan.branches:
        first = spec.engine.split("|")[0]
        if plan.settings is not None:
            tokens_in = _prompt_tokens(translation_request(plan.document, plan.settings))
            calls.append((first, tokens_in, round(estimate_tokens(plan.document) * TRANSLATION_GROWTH)))
        else:
            request = review_request(plan.document, plan.config.perspectives[spec.perspective])
            calls.append((first, _prompt_tokens(request), EXPECTED_REVIEW_TOKENS))
    branch_calls = len(calls)
    if plan.settings is not None and plan.settings.judge:
        judge = plan.settings.judge
        # Only real translations are judged: pseudo-localisation never is.
        candidates = sum(plan.engines[s.engine.split("|")[0]].not_a_translation is None for s in plan.branches)
        calls += [(judge, i, o) for i, o in judge_tokens(plan.document, plan.settings, candidates)]
    cost = 0.0
    unpriced: list[str] = []
    for i, (engine_id, tokens_in, tokens_out) in enumerate(calls):
        price = plan.config.price(engine_id)
        if plan.engines[engine_id].free:
            continue
        if price is None:
            unpriced += [engine_id] if engine_id not in unpriced else []
            continue
        factor = branch_price_factor if i < branch_calls else 1.0
        cost += factor * (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6
    return Estimate(len(plan.branches), sum(c[1] for c in calls), sum(c[2] for c in calls),
                    None if unpriced else cost, tuple(unpriced))


def estimate_batch(plan: RunPlan, texts: list[str], documents: int,
                   branch_price_factor: float = 1.0) -> Estimate | None:
    """A batch's cost: the mean of `estimate_run` over sample documents (the first rows), times the documents."""
    import dataclasses

    found = [estimate_run(dataclasses.replace(plan, document=text), branch_price_factor) for text in texts]
    if not found:
        return None
    costs = [e.cost_usd for e in found]
    per_document = None if None in costs else sum(c for c in costs if c is not None) / len(found)
    return Estimate(found[0].branches * documents, round(sum(e.input_tokens for e in found) / len(found) * documents),
                    round(sum(e.output_tokens for e in found) / len(found) * documents),
                    None if per_document is None else per_document * documents, found[0].unpriced)
