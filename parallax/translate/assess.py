"""Assessing finished translations: agreement between engines, glossary, reference metrics and the judge."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from dataclasses import dataclass, field

from parallax.results import BranchResult, BranchSpec, Finding
from parallax.run.branch import RunContext, job_for, run_branch
from parallax.translate.fidelity import non_translation
from parallax.translate.judge import JudgeSample, judge_request, mqm_score, neutral_labels, parse_mqm
from parallax.translate.metrics import agreement_matrix, consensus, outliers, reference_scores
from parallax.translate.request import TranslationSettings, glossary_compliance


@dataclass(frozen=True)
class Assessed:
    """The translations with their quality filled in, and what the comparison found."""

    results: list[BranchResult]
    matrix: dict[str, dict[str, float]] = field(default_factory=dict)  # engine → engine → chrF
    judge_samples: list[JudgeSample] = field(default_factory=list)
    # With k ≥ n candidates judged side by side: position label → mean score there minus the candidate's mean.
    position_effect: dict[str, float] = field(default_factory=dict)

    @property
    def judge_cost_usd(self) -> float | None:
        costs = [s.cost_usd for s in self.judge_samples]
        return None if not costs or None in costs else sum(c for c in costs if c is not None)


async def assess(document: str, results: list[BranchResult], settings: TranslationSettings,
                 ctx: RunContext, seed: str) -> Assessed:
    results = [dataclasses.replace(r) for r in results]  # never mutate what the graph state holds
    answered = {r.branch_id: r for r in results if r.status == "ok"}
    for r in answered.values():
        engine = ctx.engines.get(r.answered_by or r.engine)
        r.non_translation = (engine.not_a_translation if engine is not None else None) or non_translation(
            document, r.text, settings.target)
    done = {b: r for b, r in answered.items() if r.text.strip()}
    judging = asyncio.gather(*(_judge(document, done, settings, ctx, seed, i)
                               for i in range(settings.judge_samples if settings.judge and done else 0)))
    # chrF over long texts takes CPU time (≈0.85 s for 6 engines × 21k characters): a thread keeps the
    # event loop free for the judge's calls, which run meanwhile.
    texts = {b: r.text for b, r in done.items()}
    try:
        matrix = await asyncio.to_thread(agreement_matrix, texts) if len(done) > 1 else {}
    except BaseException:
        judging.cancel()  # a stopped run must not leave the judge's calls running
        raise
    samples: list[JudgeSample] = [s for group in await judging for s in group]
    agreement = consensus(matrix)
    odd = outliers(agreement, len(document.split()))
    for branch_id, r in done.items():
        r.agreement = agreement.get(branch_id)
        r.outlier = branch_id in odd
        r.glossary = glossary_compliance(document, r.text, settings.glossary)
        if settings.reference:
            r.chrf_reference, r.bleu_reference = reference_scores(r.text, settings.reference)
    if samples:
        _apply_judgements(done, samples)
    return Assessed(results, matrix, samples, position_effect(samples))


async def _judge(document: str, done: dict[str, BranchResult], settings: TranslationSettings,
                 ctx: RunContext, seed: str, sample: int) -> list[JudgeSample]:
    """Sample `sample`: one judge call over every translation under neutral labels in rotated positions, or
    (protocol "single", GEMBA-MQM's own) one call per translation, each labelled A."""
    if settings.judge_protocol == "single":
        return list(await asyncio.gather(*(_judge_call(document, {"A": b}, done, settings, ctx, sample, i)
                                           for i, b in enumerate(done))))
    labelled = dict(neutral_labels(list(done), sample, seed))
    return [await _judge_call(document, labelled, done, settings, ctx, sample, 0)]


async def _judge_call(document: str, labelled: dict[str, str], done: dict[str, BranchResult],
                      settings: TranslationSettings, ctx: RunContext, sample: int, part: int) -> JudgeSample:
    candidates = {label: done[b].text for label, b in labelled.items()}
    parsed: dict[str, list[Finding]] = {}

    def read(text: str, _result: BranchResult) -> None:
        parsed.update(parse_mqm(text, candidates))

    assert settings.judge is not None
    name = f"judge#{sample + 1}" + (f".{part + 1}" if settings.judge_protocol == "single" else "")
    job = job_for(ctx, BranchSpec(name, 1000 + sample, "judge", settings.judge),
                  judge_request(document, settings, list(candidates.items())), read)
    # Never from the cache: k samples must be k judgements, not replays of an earlier run's (their spread is the
    # judge's own variation, which a replay would hide).
    job = dataclasses.replace(job, cache=None)
    call = await run_branch(job, lambda _event: None)
    positions = None if settings.judge_protocol == "single" else {b: ord(label) - ord("A")
                                                                  for label, b in labelled.items()}
    if call.status != "ok":
        return JudgeSample(None, call.error, call.cost_usd, positions, sample, call.exchange, call.text)
    return JudgeSample({b: parsed[label] for label, b in labelled.items()}, None, call.cost_usd, positions, sample,
                       call.exchange, call.text)


def _by_sample(samples: list[JudgeSample]) -> dict[int, dict[str, list[Finding]]]:
    """Findings per sample index and branch (a "single" sample is several calls, one per translation)."""
    out: dict[int, dict[str, list[Finding]]] = {}
    for s in samples:
        if s.findings is not None:
            out.setdefault(s.sample, {}).update(s.findings)
    return out


def _apply_judgements(done: dict[str, BranchResult], samples: list[JudgeSample]) -> None:
    readable = _by_sample(samples)
    errors = "; ".join(dict.fromkeys(s.error for s in samples if s.error))
    failed = sum(s.findings is None for s in samples)
    for branch_id, r in done.items():
        found = [f[branch_id] for _, f in sorted(readable.items()) if branch_id in f]
        if not found:
            r.judge_error = f"no judgement: {errors}"  # marked, never turned into a number
            continue
        r.samples = [mqm_score(f) for f in found]
        r.judge_score = round(statistics.fmean(r.samples), 2)
        r.judge_spread = round(max(r.samples) - min(r.samples), 2)
        r.score = r.judge_score
        r.issues = merge_findings(found)
        if failed:
            r.judge_error = f"{failed} of {len(samples)} judge calls failed: {errors}"


def merge_findings(per_sample: list[list[Finding]]) -> list[Finding]:
    """The errors every sample found, once each, with how many samples found it (most often found first)."""
    merged: dict[tuple[str, str, str], Finding] = {}
    for findings in per_sample:
        for f in {(f.severity, f.category, f.quote.strip()): f for f in findings}.values():
            key = (f.severity, f.category, f.quote.strip())
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
