"""`offline:rules` — keyword and pattern checks, deterministic. No network, no model, no AI: it finds words and
patterns (vague claims, missing figures, absolute promises, exposed e-mail addresses…), it does not understand
the text. Its accuracy on a labelled set of pairs is measured in tests/test_offline_accuracy.py."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Iterator

from parallax.engines.base import Engine, Event, Request, stream_local
from parallax.engines.offline_rules import (
    ABSOLUTE,
    ACRONYM,
    ACTION,
    AUDIENCE,
    BOUND,
    CAPPED,
    CLAIM,
    COMMON_ACRONYMS,
    DIGIT,
    DISCRETION,
    EMAIL,
    FIGURE,
    HEDGE,
    HIGH_INTEREST,
    HYPE,
    IP_GRAB,
    LOCK_IN,
    MONEY,
    NO_REFUND,
    NOT_A_BOUND,
    NUMBER_WORDS,
    OWN_RESTRAINT,
    PERPETUAL,
    PHONE,
    POWER,
    READERS_RIGHT,
    ROLE_MAILBOX,
    SENTENCE,
    SPECIFIC,
    SWEEPING,
    TAKES,
    UNILATERAL,
    VAGUE,
    VAGUE_DUTY,
    VALUE,
    WAIVER,
    WORD,
    YEAR_RANGE,
    Check,
    clause_before,
    flesch_reading_ease,
    matches,
    quote,
    sentences,
)
from parallax.results import Finding
from parallax.review.judgement import Judgement

__all__ = ["LABEL", "OfflineRulesEngine", "flesch_reading_ease", "review"]

LABEL = "Keyword checks (offline) — no AI"
PENALTY = {"critical": 2.5, "major": 1.5, "minor": 0.5}
MAX_PER_CHECK = 3  # one noisy check must not drown the others
READABILITY_MIN_WORDS = 30  # Flesch's formula is meant for passages: on one short sentence it is noise


def _readability(text: str) -> Iterator[Finding]:
    score = flesch_reading_ease(text)
    if score is not None and score < 30 and len(WORD.findall(text)) >= READABILITY_MIN_WORDS:
        yield Finding(
            "major", sentences(text)[0][:120], f"Hard to read (Flesch reading ease {score:.0f}; aim for 50+)."
        )


def _long_sentences(text: str) -> Iterator[Finding]:
    for s in sentences(text):
        n = len(WORD.findall(s))
        if n > 30:
            yield Finding("minor", s[:120], f"Long sentence ({n} words); split it.")


_DEFINED_AFTER = re.compile(r"\(([A-Z][A-Z0-9]{1,5})\)")  # "Data Loss Prevention (DLP)"
_DEFINED_BEFORE = re.compile(r"\b([A-Z][A-Z0-9]{1,5})\s*\(")  # "DLP (data loss prevention)"


def _undefined_acronyms(text: str) -> Iterator[Finding]:
    # The definitions are found once, in two linear passes (not one search of the whole text per acronym).
    defined = {m.group(1) for m in _DEFINED_AFTER.finditer(text)} | {m.group(1) for m in _DEFINED_BEFORE.finditer(text)}
    seen: set[str] = set()
    for m in ACRONYM.finditer(text):
        acronym = m.group(0).rstrip("s") if m.group(0).endswith("s") and len(m.group(0)) > 2 else m.group(0)
        # A name with a digit in it (E104, SHA256, 4K) is a code, a model or a version: nothing to define.
        if acronym in seen or acronym in COMMON_ACRONYMS or any(c.isdigit() for c in acronym):
            continue
        seen.add(acronym)
        if acronym not in defined:
            yield Finding("minor", quote(text, m.start(), m.end(), 40), f"'{acronym}' is not defined.")


def _claims_without_figures(text: str) -> Iterator[Finding]:
    for sentence in SENTENCE.finditer(text):
        m = CLAIM.search(sentence.group(0))
        if m and not FIGURE.search(sentence.group(0)):
            start = sentence.start() + m.start()
            yield Finding("major", quote(text, start, start + len(m.group(0))),
                          f"'{m.group(0)}' claims a change without a figure or unit.")


def _absent(pattern: re.Pattern[str], severity: str, note: str, *more: re.Pattern[str]) -> Check:
    def check(text: str) -> Iterator[Finding]:
        if not any(p.search(text) for p in (pattern, *more)):
            yield Finding(severity, "", note)

    return check


def _no_numbers(severity: str, note: str) -> Check:
    def check(text: str) -> Iterator[Finding]:
        if not DIGIT.search(text) and not NUMBER_WORDS.search(text):
            yield Finding(severity, "", note)

    return check


def _personal_data(text: str) -> Iterator[Finding]:
    for m in EMAIL.finditer(text):
        if not ROLE_MAILBOX.match(m.group(0)):  # legal@, support@: a role's mailbox, not a person's
            yield Finding("critical", m.group(0), "Personal data: an e-mail address is exposed.")
    for m in PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group(0)) >= 7 and not YEAR_RANGE.match(m.group(0).strip()):
            yield Finding("critical", m.group(0).strip(), "Personal data: a phone number is exposed.")


_CLAUSE_END = re.compile(r"(?<!\d)[.!?](?!\d)|[;\n]")  # "4.5%" does not end a sentence


def _sentence_around(text: str, start: int, width: int = 200) -> tuple[str, str]:
    """The words before and after a position within its sentence (at most `width` characters each way)."""
    return _CLAUSE_END.split(text[max(0, start - width):start])[-1], _CLAUSE_END.split(text[start:start + width])[0]


def _restrained_or_capped(text: str, start: int) -> bool:
    """"We will not share it with anyone" limits the drafter; "whatever the cause, liability is capped at…" states
    its limit: neither is a sweeping clause against the reader."""
    before, after = _sentence_around(text, start)
    return bool(OWN_RESTRAINT.search(before) or CAPPED.search(before + after))


def _readers_right(text: str, start: int) -> bool:
    """"You may cancel at any time", "either party may end it at any time": a right the reader keeps too."""
    return bool(READERS_RIGHT.search(clause_before(text, start)))


def _unbounded_powers(text: str) -> Iterator[Finding]:
    """A power one side keeps ("we may change it", "the landlord can enter") in a sentence that sets no notice,
    period, amount or condition, unless it is the reader's own or both sides' right."""
    seen: set[str] = set()
    for m in POWER.finditer(text):
        before, after = _sentence_around(text, m.start())
        if m.group(0).lower() in seen or BOUND.search(NOT_A_BOUND.sub("", before + after)):
            continue
        if not _readers_right(text, m.start()):
            seen.add(m.group(0).lower())
            yield Finding("major", quote(text, m.start(), m.end()),
                          f"One-sided power: '{m.group(0)}' with no notice, limit or condition.")


# Strength reported when a check finds nothing.
CHECKS: dict[str, list[tuple[Check, str]]] = {
    "technical": [
        (_readability, "Readable."),
        (_long_sentences, "Sentences are a readable length."),
        (_undefined_acronyms, "Acronyms are defined."),
        (_claims_without_figures, "Claims come with figures."),
        (_absent(SPECIFIC, "major", "No numbers, units, versions or names to check it against.", NUMBER_WORDS),
         "Gives checkable specifics."),
        (matches(VAGUE, "minor", lambda w: f"Vague wording: '{w}'."), "Wording is specific."),
        (matches(ABSOLUTE, "minor", lambda w: f"Absolute claim: '{w}' — state the limits.", negatable=True),
         "No absolute claims."),
    ],
    "business": [
        (_absent(VALUE, "major", "No clear value for the reader (savings, revenue, benefit).", MONEY),
         "States its value."),
        (_absent(AUDIENCE, "minor", "No audience is addressed (you, customers, teams)."), "Speaks to its audience."),
        (_no_numbers("critical", "No numbers back the message (prices, savings, dates, results)."),
         "Backs the message with numbers."),
        (_absent(ACTION, "major", "No call to action: what should the reader do next, by when?"),
         "Ends with a next step."),
        (matches(HEDGE, "minor", lambda w: f"Hedging: '{w}' weakens the message."), "Confident, no hedging."),
        (matches(HYPE, "minor", lambda w: f"Buzzword or hype: '{w}' — say what it means in numbers."),
         "Plain words, no hype."),
        (_long_sentences, "Sentences are a readable length."),
    ],
    "legal": [
        (
            matches(ABSOLUTE, "critical", lambda w: f"Absolute promise: '{w}' may be held to the letter.",
                    negatable=True),
            "No absolute promises.",
        ),
        (
            matches(
                WAIVER,
                "major",
                lambda w: f"Waiver or liability wording: '{w}' — check it is deliberate and enforceable.",
                negatable=True,
            ),
            "No waiver or liability wording.",
        ),
        (
            matches(UNILATERAL, "critical",
                    lambda w: f"One-sided change: '{w}' — terms changed without notice may be unenforceable."),
            "No terms that change without notice.",
        ),
        (
            matches(HIGH_INTEREST, "major",
                    lambda w: f"High interest or fees: '{w}' — many jurisdictions cap late-payment interest."),
            "No excessive interest.",
        ),
        (
            matches(IP_GRAB, "critical",
                    lambda w: f"Takes all intellectual property: '{w}' — limit it to what the deal needs."),
            "Intellectual property stays with its owner.",
        ),
        (
            matches(TAKES, "critical", lambda w: f"Takes ownership: '{w}' — limit it to what the deal needs."),
            "Ownership stays with the owner.",
        ),
        (
            matches(NO_REFUND, "major",
                    lambda w: f"No refunds at all: '{w}' — consumer law often requires a withdrawal period."),
            "Refunds are possible.",
        ),
        (
            matches(SWEEPING, "major", lambda w: f"Unbounded: '{w}' — set a limit (amount, period, scope).",
                    skip=_restrained_or_capped),
            "Obligations have limits.",
        ),
        (
            matches(DISCRETION, "major", lambda w: f"One side decides alone: '{w}' — name the conditions or notice.",
                    skip=_readers_right),
            "No decisions left to one side.",
        ),
        (
            matches(LOCK_IN, "major", lambda w: f"No way out: '{w}' — let either side end it with notice."),
            "There is a way out.",
        ),
        (_unbounded_powers, "Powers come with notice or limits."),
        (
            matches(PERPETUAL, "minor", lambda w: f"'{w}' terms are hard to undo."),
            "No perpetual or irrevocable terms.",
        ),
        (matches(VAGUE_DUTY, "minor", lambda w: f"Vague obligation: '{w}' — say what, by whom, by when."),
         "Obligations are definite."),
        (_no_numbers("minor", "No period, amount or limit is stated."), "States periods, amounts or limits."),
        (_long_sentences, "Clauses are a readable length."),
        (_personal_data, "No personal data exposed."),
    ],
}
GENERAL = [
    (_readability, "Readable."),
    (_long_sentences, "Sentences are a readable length."),
    (matches(HEDGE, "minor", lambda w: f"Hedging: '{w}'."), "Confident, no hedging."),
    (matches(ABSOLUTE, "major", lambda w: f"Absolute claim: '{w}'.", negatable=True), "No absolute claims."),
]


def review(text: str, perspective: str) -> Judgement:
    """Run the perspective's checks; the score starts at 10 and loses points per finding by severity."""
    checks = CHECKS.get(perspective, GENERAL)
    issues: list[Finding] = []
    strengths: list[str] = []
    for check, strength in checks:
        found = list(itertools.islice(check(text), MAX_PER_CHECK))  # stop looking after the first few
        issues.extend(found)
        if not found:
            strengths.append(strength)
    score = max(0.0, 10.0 - sum(PENALTY[f.severity] for f in issues))
    counts = ", ".join(f"{sum(f.severity == s for f in issues)} {s}" for s in PENALTY)
    ease = flesch_reading_ease(text)
    scope = "" if perspective in CHECKS else f" No checks specific to '{perspective}': general writing checks used."
    summary = (
        f"{LABEL}. {len(issues)} finding(s) ({counts}) from {len(checks)} {perspective} checks"
        + (f"; Flesch reading ease {ease:.0f}." if ease is not None else ".")
        + scope
    )
    issues.sort(key=lambda f: list(PENALTY).index(f.severity))
    return Judgement(round(score, 1), summary, strengths, issues)  # no model: no confidence to report


class OfflineRulesEngine(Engine):
    engine_id = "offline:rules"
    provider = "Offline keyword checks"
    model = "rules"
    free = True
    kinds = frozenset({"review"})
    streams = True
    prompted = False  # it gets the text itself, no prompt

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        # In a thread: the checks never hold up the event loop (other branches, the page, Stop), and the branch's
        # deadline applies to the wait.
        task = request.task
        body = await asyncio.to_thread(lambda: review(task.document, task.perspective).to_json())
        async for event in stream_local(body.splitlines(keepends=True)):
            yield event
