"""Assessing finished translations: agreement between engines, glossary, reference metrics and the judge."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .quality import (
    JudgeSample,
    agreement_matrix,
    consensus,
    judge_request,
    mqm_score,
    neutral_labels,
    outliers,
    parse_mqm,
    reference_scores,
)
from .results import BranchResult, BranchSpec, Finding
from .runner import run_branch
from .translation import TranslationSettings, glossary_compliance

if TYPE_CHECKING:
    from .graph import RunContext


@dataclass(frozen=True)
class Assessed:
    """The translations with their quality filled in, and what the comparison found."""

    results: list[BranchResult]
    matrix: dict[str, dict[str, float]] = field(default_factory=dict)  # engine → engine → chrF
    judge_samples: list[JudgeSample] = field(default_factory=list)

    @property
    def judge_cost_usd(self) -> float | None:
        costs = [s.cost_usd for s in self.judge_samples]
        return None if not costs or None in costs else sum(c for c in costs if c is not None)


async def assess(document: str, results: list[BranchResult], settings: TranslationSettings,
                 ctx: RunContext, seed: str) -> Assessed:
    results = [dataclasses.replace(r) for r in results]  # never mutate what the graph state holds
    done = {r.branch_id: r for r in results if r.status == "ok" and r.text.strip()}
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
    samples: list[JudgeSample] = list(await judging)
    agreement = consensus(matrix)
    odd = outliers(agreement)
    for branch_id, r in done.items():
        r.agreement = agreement.get(branch_id)
        r.outlier = branch_id in odd
        r.glossary = glossary_compliance(document, r.text, settings.glossary)
        if settings.reference:
            r.chrf_reference, r.bleu_reference = reference_scores(r.text, settings.reference)
    if samples:
        _apply_judgements(done, samples)
    return Assessed(results, matrix, samples)


async def _judge(document: str, done: dict[str, BranchResult], settings: TranslationSettings,
                 ctx: RunContext, seed: str, sample: int) -> JudgeSample:
    """One judge call over every translation, under neutral labels in this sample's own random order."""
    labelled = neutral_labels(list(done), sample, seed)
    labels = [label for label, _ in labelled]
    parsed: dict[str, list[Finding]] = {}

    def read(text: str, _result: BranchResult) -> None:
        parsed.update(parse_mqm(text, labels))

    from .graph import job_for

    assert settings.judge is not None
    job = job_for(ctx, BranchSpec(f"judge#{sample + 1}", 1000 + sample, "judge", settings.judge),
                  judge_request(document, settings, [(label, done[b].text) for label, b in labelled]), read)
    # Never from the cache: k samples must be k judgements, not replays of an earlier run's (their spread is the
    # judge's own variation, which a replay would hide).
    job = dataclasses.replace(job, cache=None)
    call = await run_branch(job, lambda _event: None)
    if call.status != "ok":
        return JudgeSample(None, call.error, call.cost_usd)
    return JudgeSample({b: parsed[label] for label, b in labelled}, None, call.cost_usd)


def _apply_judgements(done: dict[str, BranchResult], samples: list[JudgeSample]) -> None:
    readable = [s.findings for s in samples if s.findings is not None]
    errors = "; ".join(s.error for s in samples if s.error)
    for branch_id, r in done.items():
        if not readable:
            r.judge_error = f"no judgement: {errors}"  # marked, never turned into a number
            continue
        scores = [mqm_score(f[branch_id]) for f in readable]
        r.judge_score = round(statistics.fmean(scores), 2)
        r.judge_spread = round(max(scores) - min(scores), 2)
        r.score = r.judge_score
        r.issues = readable[0][branch_id]
        if len(readable) < len(samples):
            r.judge_error = f"{len(samples) - len(readable)} of {len(samples)} judge samples failed: {errors}"
