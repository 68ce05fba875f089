"""Metrics between texts, no model needed: chrF agreement between engines (consensus, outliers), chrF and BLEU
against a reference, word diffs."""

from __future__ import annotations

import difflib
import re
import statistics

OUTLIER_GAP = 15.0  # chrF points below the median consensus
OUTLIER_MIN_WORDS = 8  # below this, one synonym moves chrF by more than the gap: no outlier flag


def agreement_matrix(texts: dict[str, str]) -> dict[str, dict[str, float]]:
    """chrF (sacrebleu) of each engine's translation against each other's, as hypothesis → reference."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    return {a: {b: round(chrf.sentence_score(ta, [tb]).score, 2) for b, tb in texts.items() if b != a}
            for a, ta in texts.items()}


def consensus(matrix: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each engine's mean agreement with the others, both directions averaged (chrF is not symmetric)."""
    return {a: round(statistics.fmean((row[b] + matrix[b][a]) / 2 for b in row), 2)
            for a, row in matrix.items() if row}


def outliers(agreement: dict[str, float], words: int) -> set[str]:
    """Engines far below the median agreement. Never with two engines (agreement cannot say which side is off)
    nor on a text of fewer than OUTLIER_MIN_WORDS words (one synonym moves chrF by more than the gap)."""
    if len(agreement) < 3 or words < OUTLIER_MIN_WORDS:
        return set()
    median = statistics.median(agreement.values())
    return {k for k, v in agreement.items() if v < median - OUTLIER_GAP}


def reference_scores(translation: str, reference: str) -> tuple[float, float]:
    """(chrF, BLEU) of a translation against the reference, from sacrebleu."""
    from sacrebleu.metrics import BLEU, CHRF

    chrf = CHRF().sentence_score(translation, [reference]).score
    bleu = BLEU(effective_order=True).sentence_score(translation, [reference]).score
    return round(chrf, 2), round(bleu, 2)


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """Word-level diff: [(op, words)] with op one of "=", "-" (only in a), "+" (only in b)."""
    wa, wb = re.findall(r"\S+\s*", a), re.findall(r"\S+\s*", b)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(wa[i1:i2])))
        else:
            if i2 > i1:
                out.append(("-", "".join(wa[i1:i2])))
            if j2 > j1:
                out.append(("+", "".join(wb[j1:j2])))
    return out
