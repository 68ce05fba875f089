"""Is it a translation at all? Empty replies, copies of the source and text in the wrong language are caught before
they can win: a judge comparing candidates, or agreement between engines that copy alike, would not catch them."""

from __future__ import annotations

import functools
from typing import Any

SOURCE_COPY_CHRF = 60.0  # chrF of the "translation" against the source at or above this: a copy, not a translation
LANGUAGE_MIN_LETTERS = 40  # language identification on fewer letters is a guess
LANGUAGE_MIN_PROBABILITY = 0.9
_SAME = {"nb": "no", "nn": "no"}  # codes the identifier folds together


@functools.cache
def _identifier() -> Any:
    # py3langid ships its model inside the wheel (offline, ~0.5 s to load once per process).
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _base(code: str) -> str:
    base = code.replace("_", "-").split("-")[0].lower()
    return _SAME.get(base, base)


def language_of(text: str) -> tuple[str, float] | None:
    """(ISO 639-1 code, probability) when the text is long enough to tell, else None."""
    if sum(c.isalpha() for c in text) < LANGUAGE_MIN_LETTERS:
        return None
    code, probability = _identifier().classify(text)
    return str(code), float(probability)


def non_translation(source: str, translation: str, target: str) -> str | None:
    """ "empty", "source copy", "wrong language (fr)", or None for something that may be a translation."""
    if not translation.strip():
        return "empty"
    from sacrebleu.metrics import CHRF

    if CHRF().sentence_score(translation, [source]).score >= SOURCE_COPY_CHRF:
        return "source copy"
    wanted = _base(target)
    if wanted not in _identifier().labels:
        return None  # a language the identifier does not know: it cannot say it is wrong
    found = language_of(translation)
    if found and found[1] >= LANGUAGE_MIN_PROBABILITY and _base(found[0]) != wanted:
        return f"wrong language ({found[0]})"
    return None
