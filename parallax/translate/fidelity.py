"""Is it a translation at all? Empty or markup-only replies, copies of the source, answers wrapped in commentary,
text in the wrong language and replies far too short or too long are caught before they can win: a judge comparing
candidates, or agreement between engines that copy alike, would not catch them. `unverified` says, separately, that
nothing confirms a candidate is in the target language: neither the language identifier nor another engine."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from typing import Any

SOURCE_COPY_CHRF = 60.0  # chrF of the "translation" against the source at or above this: a copy, not a translation
COPY_MIN_LETTERS = 20  # fewer letters left once shared names, numbers and code are set aside: only identity is a copy
LANGUAGE_MIN_LETTERS = 40  # language identification on fewer letters is a guess
LANGUAGE_MIN_PROBABILITY = 0.9
# Translation length over source length, in weighted letters (see `weighted_letters`). The 68 genuine translations
# in tests/data/fidelity_genuine_pairs.json (en→de/fr/es/it/pt/nl/ja/zh, de/ja/zh→en) span 0.72–1.65; 0.3 and 3.0
# leave room for terse or wordy renderings and only catch a reply that lost most of the text, or tripled it.
LENGTH_RATIO_MIN, LENGTH_RATIO_MAX = 0.3, 3.0
LENGTH_MIN_LETTERS = 40  # below this in the source, a ratio says little
# chrF with another candidate at or above this: the two agree (see `unverified`). Reversed-word gibberish scores
# 11–22 against the genuine translations of the tests, two German renderings of one sentence 50–62; Chinese ones,
# counted in characters, about 30 (but the identifier confirms Chinese on its own).
AGREEMENT_MIN_CHRF = 30.0
# Codes the identifier folds together, and varieties it confuses with a larger neighbour on short texts (Galician
# for Portuguese, Luxembourgish for German, Wu for Chinese …): found for that target, they are not a wrong language.
_SAME = {"nb": "no", "nn": "no"}
_NEIGHBOURS = {"de": {"lb"}, "en": {"pcm"}, "es": {"an", "ext", "gl"}, "pt": {"gl"}, "it": {"vec", "lij"},
               "fr": {"oc", "wa"}, "nl": {"af", "fy"}, "zh": {"wuu", "yue"}, "ar": {"arz", "ary"}, "lv": {"ltg"},
               "uz": {"uzs"}, "hr": {"bs", "sr"}, "bs": {"hr", "sr"}, "sr": {"bs", "hr"}, "no": {"da"}}

_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][\w:-]*)(?:\s[^<>]*)?/?>|<![^<>]*>", re.DOTALL)
_BLOCK = {"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table",
          "blockquote", "pre", "section", "article", "header", "footer", "dt", "dd", "hr"}
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), " ")
# Letters per character, against a Latin letter: a Han character carries about 2.5 (en letters per zh/ja Han
# character run 2.4–3.0 in the test pairs), a Hangul syllable about 2; kana, Thai and alphabets about 1.
_WEIGHTS = ((re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"), 2.5),
            (re.compile("[\uac00-\ud7af]"), 2.0))
_EDGE = "\"'“”„«»‚‘’()[]{}<>.,;:!?¿¡…*_"
_SENTENCE_END = re.compile(r"[.!?:;…。！？][\"'“”»’)\]]*$")
_WORD = re.compile(r"\w+")
_CODE_SPAN = re.compile(r"`[^`\n]+`|(?:https?|ftp)://\S+")


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


def target_probability(text: str, target: str) -> float | None:
    """The identifier's probability that the text is in the target language (or a variety it confuses with it),
    or None when the text is too short to tell (in weighted letters: 16 Han characters are enough) or the
    identifier does not know the language."""
    wanted = _base(target)
    if wanted not in _identifier().labels or weighted_letters(text) < LANGUAGE_MIN_LETTERS:
        return None
    family = {wanted} | _NEIGHBOURS.get(wanted, set())
    return sum(float(p) for code, p in _identifier().rank(text) if _base(code) in family)


def visible_text(text: str) -> str:
    """The text without markup: tags dropped (block tags as line breaks), entities decoded, zero-width characters
    as spaces."""
    def tag(m: re.Match[str]) -> str:
        return "\n" if m.group(2) and m.group(2).lower() in _BLOCK else " "

    return html.unescape(_TAG.sub(tag, text)).translate(_INVISIBLE)


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def weighted_letters(text: str) -> float:
    """Letters, a Han character counting 2.5 and a Hangul syllable 2, so lengths compare across scripts."""
    return sum(map(str.isalpha, text)) + sum(len(pattern.findall(text)) * (weight - 1) for pattern, weight in _WEIGHTS)


def _core(token: str) -> str:
    return token.strip(_EDGE)


def _names(source: str) -> set[str]:
    """Words capitalised in the source where a sentence does not start: names, product names, UI labels."""
    found = set()
    for line in source.splitlines():
        start = True
        for token in line.split():
            core = _core(token)
            if core and core[0].isupper() and not start:
                found.add(core)
            if core and any(c.isalpha() for c in core):
                start = bool(_SENTENCE_END.search(token))
            else:
                start = start or bool(_SENTENCE_END.search(token))  # a bullet or a number keeps a start a start
    return found


def _kept_as_is(core: str, names: set[str]) -> bool:
    """A token a translation rightly keeps: numbers, code and symbols, ALLCAPS, CamelCase, and names."""
    letters = [c for c in core if c.isalpha()]
    return (any(not (c.isalpha() or c in "'’-") for c in core)
            or (len(letters) > 1 and all(c.isupper() for c in letters))
            or re.search(r"[a-z][A-Z]", core) is not None or core in names)


def own_words(source: str, translation: str) -> tuple[str, str]:
    """Source and translation without what both share verbatim and a translation rightly keeps: code spans, URLs,
    numbers, symbols, ALLCAPS and CamelCase words, and names (capitalised where no sentence starts in the source)."""
    spans = set(_CODE_SPAN.findall(source)) & set(_CODE_SPAN.findall(translation))
    for span in sorted(spans, key=len, reverse=True):
        source, translation = source.replace(span, " "), translation.replace(span, " ")
    names = _names(source)
    shared = {_core(t) for t in source.split()} & {_core(t) for t in translation.split()}
    kept = {core for core in shared if core and _kept_as_is(core, names)}

    def rest(text: str) -> str:
        return "\n".join(" ".join(t for t in line.split() if _core(t) not in kept) for line in text.splitlines())

    return rest(source), rest(translation)


def is_copy(source: str, translation: str) -> bool:
    """The translation is the source again: chrF ≥ SOURCE_COPY_CHRF once shared names, numbers and code are set
    aside; when too little is left to tell (fewer than COPY_MIN_LETTERS letters), only the same words in the same
    order are (spaces, punctuation and case aside)."""
    return _copied(source, translation, *own_words(source, translation))


def _copied(source: str, translation: str, source_rest: str, translation_rest: str) -> bool:
    from sacrebleu.metrics import CHRF

    if sum(c.isalpha() for c in source_rest) < COPY_MIN_LETTERS:  # the same words, whatever the spaces and commas
        return _WORD.findall(source.casefold()) == _WORD.findall(translation.casefold())
    return bool(CHRF().sentence_score(translation_rest, [source_rest]).score >= SOURCE_COPY_CHRF)


def length_mismatch(source: str, translation: str) -> str | None:
    """"too short for the source" / "too long for the source" when the translation's weighted letters are outside
    LENGTH_RATIO_MIN–LENGTH_RATIO_MAX times the source's (a source of at least LENGTH_MIN_LETTERS only)."""
    letters = weighted_letters(source)
    if letters < LENGTH_MIN_LETTERS:
        return None
    ratio = weighted_letters(translation) / letters
    if ratio < LENGTH_RATIO_MIN:
        return "too short for the source"
    return "too long for the source" if ratio > LENGTH_RATIO_MAX else None


def non_translation(source: str, translation: str, target: str) -> str | None:
    """"empty", "markup only", "source copy", "commentary, not only a translation", "wrong language (fr)", "too
    short for the source", "too long for the source", or None for something that may be a translation."""
    seen, shown = visible_text(source), visible_text(translation)
    if not translation.translate(_INVISIBLE).strip():
        return "empty"
    if not _has_words(shown):  # no letter or digit once tags and entities are gone
        if not _has_words(visible_text(source)):
            return None  # nor in the source: markup or symbols kept as they are
        return "markup only" if _TAG.search(translation) or _ENTITY.search(translation) else "empty"
    source_rest, translation_rest = own_words(seen, shown)
    if _copied(seen, shown, source_rest, translation_rest):
        return "source copy"
    from parallax.translate.commentary import commentary  # its patterns compile on first use, not at start-up

    if commentary(seen, shown):
        return "commentary, not only a translation"
    wanted = _base(target)
    if wanted in _identifier().labels:  # a language the identifier does not know: it cannot say it is wrong
        found = language_of(translation_rest)
        if (found and found[1] >= LANGUAGE_MIN_PROBABILITY and _base(found[0]) != wanted
                and _base(found[0]) not in _NEIGHBOURS.get(wanted, set())):
            return f"wrong language ({found[0]})"
    return length_mismatch(seen, shown)


def unverified(translation: str, target: str, agreements: Mapping[str, float] | None, source: str = "") -> bool:
    """Nothing confirms this candidate is a translation into the target: the language identifier cannot say so (too
    few letters of its own, or a probability below LANGUAGE_MIN_PROBABILITY for the target) and it agrees with no
    other candidate (chrF below AGREEMENT_MIN_CHRF with every one; no other candidate counts as no agreement).

    Meant for choosing the best translation, next to `non_translation`: an unverified candidate (reversed-word
    gibberish from a simulated engine, a language the identifier does not know, a two-word reply) may still be
    shown, but should not win over a verified one. `agreements` maps each other candidate to this candidate's chrF
    with it (0–100; e.g. a row of `metrics.agreement_matrix`, or the mean of both directions); `source`, when
    given, lets shared names, numbers and code be set aside before identifying the language. Two candidates that
    agree only with each other (two engines returning the same gibberish) confirm each other: agreement is taken
    at its word."""
    shown = visible_text(translation)
    own = own_words(visible_text(source), shown)[1] if source else shown
    probability = target_probability(own, target)
    if probability is not None and probability >= LANGUAGE_MIN_PROBABILITY:
        return False
    return not any(score >= AGREEMENT_MIN_CHRF for score in (agreements or {}).values())
