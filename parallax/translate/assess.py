"""Assessing finished translations: agreement between engines, glossary, reference metrics and the judge."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from collections.abc import Awaitable

from parallax.results import BranchResult, BranchSpec, Finding
from parallax.run.branch import RunContext, job_for, run_branch
from parallax.run.events import Assessed
from parallax.translate.fidelity import non_translation, unverified
from parallax.translate.judge import JudgeSample, judge_request, neutral_labels, parse_mqm
from parallax.translate.metrics import agreement_matrix, consensus, outliers, reference_scores
from parallax.translate.request import TranslationSettings, glossary_compliance
from parallax.translate.segments import Segmented, segment_candidates

JUDGE_CALLS_AT_ONCE = 16  # GEMBA's protocol is one call per segment and translation: never hundreds at once


async def assess(document: str, results: list[BranchResult], settings: TranslationSettings,
                 ctx: RunContext, seed: str) -> Assessed:
    results = [dataclasses.replace(r) for r in results]  # never mutate what the graph state holds
    answered = {r.branch_id: r for r in results if r.status == "ok"}
    for r in answered.values():
        engine = ctx.engines.get(r.answered_by or r.engine)
        r.non_translation = (engine.not_a_translation if engine is not None else None) or non_translation(
            document, r.text, settings.target)
    # Only real translations are segmented, judged and compared: a copy of the source agrees with other copies,
    # and a non-translation is never a candidate.
    real = {b: r for b, r in answered.items() if r.text.strip() and not r.non_translation}
    texts = {b: r.text for b, r in real.items()}
    segmented = await asyncio.to_thread(segment_candidates, document, texts, settings.source, settings.target)
    for b, r in real.items():
        r.segments, r.alignment = segmented.texts[b], segmented.alignment(b)
    calls = _judge_calls(document, segmented, settings, ctx, seed) if settings.judge and real else []
    judging = asyncio.gather(*calls)
    # chrF over long texts takes CPU time (≈0.85 s for 6 engines × 21k characters): a thread keeps the
    # event loop free for the judge's calls, which run meanwhile.
    try:
        matrix = await asyncio.to_thread(agreement_matrix, texts) if len(real) > 1 else {}
    except BaseException:
        judging.cancel()  # a stopped run must not leave the judge's calls running
        raise
    samples: list[JudgeSample] = list(await judging)
    agreement = consensus(matrix)
    odd = outliers(agreement, len(document.split()))
    for branch_id, r in real.items():
        r.agreement = agreement.get(branch_id)
        r.outlier = branch_id in odd
        r.unverified = unverified(r.text, settings.target, {other: (chrf + matrix[other][branch_id]) / 2
                                                            for other, chrf in matrix.get(branch_id, {}).items()},
                                  document)
        r.glossary = glossary_compliance(document, r.text, settings.glossary)
        if settings.reference:
            r.chrf_reference, r.bleu_reference = reference_scores(r.text, settings.reference)
    if samples:
        _apply_judgements(real, samples, len(segmented.units))
    return Assessed(results, matrix, samples, position_effect(samples), segmented.units)


def _judge_calls(document: str, segmented: Segmented, settings: TranslationSettings, ctx: RunContext,
                 seed: str) -> list[Awaitable[JudgeSample]]:
    """Every judge call of every sample, by protocol: "segments", one per translation with all its segments
    numbered; "single" (GEMBA-MQM's own), one per translation and segment; "compare", one per segment with every
    translation under neutral labels, in positions rotated from segment to segment (a cyclic Latin square)."""
    units, everything = segmented.units, list(range(len(segmented.units)))
    limit = asyncio.Semaphore(JUDGE_CALLS_AT_ONCE)
    calls: list[Awaitable[JudgeSample]] = []
    for sample in range(settings.judge_samples):
        part = 0
        if settings.judge_protocol == "compare":
            for n in everything:
                labelled = dict(neutral_labels(list(segmented.texts), sample + n, seed))
                calls.append(_judge_call(document, units, labelled, segmented, settings, ctx, sample, part, [n],
                                         limit, positions=True))
                part += 1
            continue
        for b in segmented.texts:
            for numbers in ([everything] if settings.judge_protocol == "segments" else [[n] for n in everything]):
                calls.append(_judge_call(document, units, {"A": b}, segmented, settings, ctx, sample, part, numbers,
                                         limit, positions=False))
                part += 1
    return calls


async def _judge_call(document: str, units: list[str], labelled: dict[str, str], segmented: Segmented,
                      settings: TranslationSettings, ctx: RunContext, sample: int, part: int, numbers: list[int],
                      limit: asyncio.Semaphore, positions: bool) -> JudgeSample:
    candidates = {label: [segmented.texts[b][n] for n in numbers] for label, b in labelled.items()}
    parsed: dict[str, list[Finding]] = {}

    def read(text: str, _result: BranchResult) -> None:
        parsed.update(parse_mqm(text, candidates, numbers))

    assert settings.judge is not None
    request = judge_request(document, settings, [units[n] for n in numbers], list(candidates.items()), numbers)
    job = job_for(ctx, BranchSpec(f"judge#{sample + 1}.{part + 1}", 1000 + sample, "judge", settings.judge),
                  request, read)
    # Never from the cache: k samples must be k judgements, not replays of an earlier run's (their spread is the
    # judge's own variation, which a replay would hide).
    job = dataclasses.replace(job, cache=None)
    async with limit:
        call = await run_branch(job, lambda _event: None)
    where = {b: ord(label) - ord("A") for label, b in labelled.items()} if positions else None
    if call.status != "ok":
        return JudgeSample(None, call.error, call.cost_usd, where, sample, call.exchange, call.text, numbers)
    return JudgeSample({b: parsed[label] for label, b in labelled.items()}, None, call.cost_usd, where, sample,
                       call.exchange, call.text, numbers)


def _apply_judgements(real: dict[str, BranchResult], samples: list[JudgeSample], n_units: int) -> None:
    """Each translation's score on each segment (mean over the judge samples that judged it), its score (the mean
    over segments), each sample's score (for the judge's consistency) and the errors found."""
    errors = "; ".join(dict.fromkeys(s.error for s in samples if s.error))
    failed = sum(s.findings is None for s in samples)
    for branch_id, r in real.items():
        by_sample: dict[int, dict[int, float]] = {}
        found: dict[int, list[Finding]] = {}
        for s in samples:
            per = s.segment_scores()
            if per is not None and branch_id in per:
                by_sample.setdefault(s.sample, {}).update(per[branch_id])
                found.setdefault(s.sample, []).extend((s.findings or {})[branch_id])
        if not by_sample:
            r.judge_error = f"no judgement: {errors}"  # marked, never turned into a number
            continue
        r.segment_scores = [_mean([scores[n] for scores in by_sample.values() if n in scores])
                            for n in range(n_units)]
        judged = [v for v in r.segment_scores if v is not None]
        r.samples = [round(statistics.fmean(scores.values()), 2) for _, scores in sorted(by_sample.items())]
        r.judge_score = round(statistics.fmean(judged), 2)
        r.judge_spread = round(max(r.samples) - min(r.samples), 2)
        r.score = r.judge_score
        r.issues = merge_findings([f for _, f in sorted(found.items())])
        if failed:
            r.judge_error = f"{failed} of {len(samples)} judge calls failed: {errors}"


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def merge_findings(per_sample: list[list[Finding]]) -> list[Finding]:
    """The errors every sample found, once each, with how many samples found it (most often found first)."""
    merged: dict[tuple[str, str, str, int | None], Finding] = {}
    for findings in per_sample:
        for f in {(f.severity, f.category, f.quote.strip(), f.segment): f for f in findings}.values():
            key = (f.severity, f.category, f.quote.strip(), f.segment)
            if key in merged:
                merged[key].found_by = (merged[key].found_by or 1) + 1
            else:
                merged[key] = dataclasses.replace(f, found_by=1)
    order = {"critical": 0, "major": 1, "minor": 2}
    return sorted(merged.values(), key=lambda f: (-(f.found_by or 1), order.get(f.severity, 3)))


def position_effect(samples: list[JudgeSample]) -> dict[str, float]:
    """How much a position in the prompt is worth: for each label, the mean over candidates placed there of
    (their score there − their mean score). Measured only when every candidate sat in every position."""
    scored = [(s.positions, s.scores()) for s in samples if s.positions and s.findings is not None]
    if not scored:
        return {}
    n = len(scored[0][0] or {})
    seen = {(b, p) for positions, _ in scored for b, p in (positions or {}).items()}
    if n < 2 or len(seen) < n * n:
        return {}
    means: dict[str, list[float]] = {}
    for _positions, scores in scored:
        for b, v in (scores or {}).items():
            means.setdefault(b, []).append(v)
    centre = {b: statistics.fmean(v) for b, v in means.items()}
    at: dict[int, list[float]] = {}
    for positions, scores in scored:
        for b, p in (positions or {}).items():
            at.setdefault(p, []).append((scores or {})[b] - centre[b])
    return {chr(ord("A") + p): round(statistics.fmean(v), 2) for p, v in sorted(at.items())}
