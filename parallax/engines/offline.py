"""`offline:rules` — keyword and pattern checks, deterministic. No network, no model, no AI: it finds words and
patterns (vague claims, missing figures, absolute promises, exposed e-mail addresses…), it does not understand
the text. Its accuracy on a labelled set of pairs is measured in tests/test_offline_accuracy.py."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Callable, Iterator
from functools import lru_cache

from parallax.engines.base import Engine, Event, Request, stream_local
from parallax.results import Finding
from parallax.review.judgement import Judgement

LABEL = "Keyword checks (offline) — no AI"
PENALTY = {"critical": 2.5, "major": 1.5, "minor": 0.5}
MAX_PER_CHECK = 3  # one noisy check must not drown the others

# A sentence ends at . ! ? followed by a space or the end ("4.0" and "e.g" do not end one), or at a line break.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?![\s]|$))+(?:[.!?]+|$)", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,5}s?\b")
_COMMON_ACRONYMS = frozenset(
    "AI API CEO CFO CPU CSV EU FAQ GPU HR HTML HTTP HTTPS ID IT JSON OK PDF PR Q1 Q2 Q3 Q4 SQL UI UK URL US USA UX "
    "USD EUR GBP AM PM TV PC OS IP CTO VP KB MB GB TB PB MS RAM SSD TLS SSL DNS UTF GET POST PUT PATCH DELETE HEAD "
    "REST SDK CLI CI CD TCP UDP SSH VPN LAN WAN ROM USB PNG JPEG GIF SVG XML YAML TOML CSS JS NPM AWS GCP GDPR ISO "
    "SLA KPI CRM ERP SEO PHP UTC GMT ASCII IDE RSS SMS FTP SMTP IMAP OAUTH JWT HTTP2 IPV4 IPV6 CORS NDA LLC LTD "
    "INC".split()
)
# Every quantifier is bounded (e-mail parts have length limits anyway): a long run of "a.a.a…" without an "@"
# cannot make the search quadratic.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{3,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?(?!\w|\.\d)"
)
_DIGIT = re.compile(r"\d")
# A figure is a number with a unit or a ratio; "4.0" in "Sync 4.0" is a version, not evidence.
_FIGURE = re.compile(
    r"\d+(?:[.,]\d+)?\s?(?:%|x\b|×|ms\b|s\b|sec|seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
    r"[KMGTP]i?B\b|[kMG]?bps\b|fps|rps|req/s|times|percent|users|requests|items|rows|"
    r"[kMG]?W\b|[kMG]?Wh\b|mAh\b|V\b|[kMG]?Hz\b|°[CF]|km\b|kg\b|m\b|cm\b|mm\b|g\b|l\b)",
)


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)


_ABSOLUTE = re.compile(
    _words(r"guarantee[sd]?|always|never fails?|unlimited|forever|risk[- ]free|no risk|for life|"
           r"lifetime(?= (?:warranty|guarantee|access|support|licen[cs]e|deal|updates|subscription))").pattern
    + r"|\b100 ?%(?!\s*of\b)",  # "capped at 100% of the fees" is a limit, not a promise
    re.IGNORECASE,
)
# "We do not guarantee", "neither party waives": the words before a match take the promise or waiver back.
_NEGATED = re.compile(r"\b(?:not|no|never|neither|nor|nothing|cannot|can't|don't|doesn't|won't|without)\W+"
                      r"(?:\w+\W+){0,2}$", re.IGNORECASE)
# "Either party may always terminate": a permission, not a promise.
_PERMITTED = re.compile(r"\b(?:may|can|could|might)\s+$", re.IGNORECASE)
_WAIVER = _words(
    r"waive[sd]?|waiver|not (?:be )?liable|no liability|hold harmless|indemnif\w*|at (?:your|their) own risk|"
    r"without (?:any )?warrant\w*|as is|disclaim\w*"
)
_PERPETUAL = _words(r"irrevocabl[ey]|perpetual")
_HEDGE = _words(r"might|maybe|perhaps|possibly|hopefully|somewhat|we think|we believe|could potentially|sort of")
_VAGUE = _words(r"etc|various|several|some|many|a lot|soon|significant(?:ly)?")
_CLAIM = _words(
    r"faster|slower|quicker|improved?|reduced?|increased?|better|more efficient|lower latency|higher throughput|"
    r"speeds? up|optimi[sz]ed"
)
_VALUE = _words(r"saves?|savings?|revenue|profit|costs?|benefits?|ROI|grow\w*|customers?|value|faster|"
                r"efficien\w*|earn\w*|free|sooner")
_AUDIENCE = _words(r"you|your|customers?|users?|teams?|clients?|partners?|developers?|admins?")
_ACTION = _words(
    r"contact|sign up|try|upgrade|book|get started|learn more|download|visit|register|buy|subscribe|start|"
    r"join|install|update now|call us|reply|schedule|request|order|apply|get in touch|reach out|talk to|"
    r"create|claim|shop|add (?:the|it|us|our)|email us|write to us"
)
_NUMBER_WORDS = _words(r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                       r"hundred|thousand|million|billion|dozen|half|twice|double|triple")
# Legal risks a careful reader would stop at.
_UNILATERAL = re.compile(
    r"\b(?:change|modify|amend|update|revise)\w*\s+(?:these|this|the|our)\s+(?:terms|agreement|prices?|fees)"
    r"[^.]{0,40}?(?:at any time|without (?:prior )?notice|(?:at )?(?:our|its) sole discretion)"
    r"|\b(?:terms|agreement|prices?|fees)\b[^.]{0,40}?\b(?:may|can|will) be (?:changed|modified|amended|updated)"
    r"[^.]{0,40}?(?:at any time|without (?:prior )?notice|(?:at )?(?:our|its) sole discretion)",
    re.IGNORECASE,
)
_HIGH_INTEREST = re.compile(
    r"\b\d+(?:\.\d+)?\s?%\s+(?:per|a|each|every)\s+(?:month|week|day)\b|\bcompounded daily\b",
    re.IGNORECASE,
)
_IP_GRAB = re.compile(
    r"\b(?:all|any)\s+(?:intellectual property|IP)\b[^.]{0,80}?\b(?:belongs? to|vests? in|is owned by|"
    r"(?:shall|will) be (?:the )?(?:sole |exclusive )?property of)"
    r"|\bassigns?\s+(?:all|any)\s+(?:intellectual property|IP|rights)\b",
    re.IGNORECASE,
)
_NO_REFUND = re.compile(
    r"\bno refunds?\b[^.]{0,40}?\b(?:under|in) any circumstances|\bnon-refundable under any circumstances|"
    r"\ball sales are final\b",
    re.IGNORECASE,
)
_ROLE_MAILBOX = re.compile(
    r"^(?:legal|support|help|info|sales|privacy|contact|hello|admin|billing|security|no-?reply|team|press|careers|"
    r"jobs|hr|office|abuse|webmaster|postmaster|dpo|compliance|accounts|service|feedback)@",
    re.IGNORECASE,
)
_YEAR_RANGE = re.compile(r"^(?:19|20)\d\d\s?[-–]\s?(?:19|20)\d\d$")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _quote(text: str, start: int, end: int, width: int = 50) -> str:
    """The sentence around a match, clipped to `width` characters each side: an exact substring of the text."""
    left, right = start, end
    for m in _SENTENCE.finditer(text):
        if m.start() <= start < m.end():
            left, right = m.start(), max(end, m.end())
            break
    if start - left > width:
        left = text.find(" ", start - width, start) + 1 or start
    if right - end > width:
        cut = text.rfind(" ", end, end + width)
        right = cut if cut > 0 else end
    return text[left:right].strip()


@lru_cache(maxsize=1)
def _hyphenator():  # type: ignore[no-untyped-def]
    import pyphen  # ships its dictionaries: works offline

    return pyphen.Pyphen(lang="en_US")


def flesch_reading_ease(text: str) -> float | None:
    """Flesch reading ease (higher is easier; 60–70 is plain English). None for text without words."""
    words = _WORD.findall(text)
    sentences = _sentences(text)
    if not words or not sentences:
        return None
    hyph = _hyphenator()
    syllables = sum(len(hyph.positions(w.lower())) + 1 for w in words)
    return 206.835 - 1.015 * (len(words) / len(sentences)) - 84.6 * (syllables / len(words))


Check = Callable[[str], Iterator[Finding]]


def _taken_back(text: str, start: int) -> bool:
    """Is the match negated or a mere permission ("do not guarantee", "neither party waives", "may always")?"""
    before = text[max(0, start - 40):start]
    before = re.split(r"[.!?;\n]", before)[-1]  # only within the sentence
    return bool(_NEGATED.search(before) or _PERMITTED.search(before))


def _matches(pattern: re.Pattern[str], severity: str, note: Callable[[str], str], negatable: bool = False) -> Check:
    def check(text: str) -> Iterator[Finding]:
        seen: set[str] = set()
        for m in pattern.finditer(text):
            key = m.group(0).lower()
            if key in seen or (negatable and _taken_back(text, m.start())):
                continue
            seen.add(key)
            yield Finding(severity, _quote(text, m.start(), m.end()), note(m.group(0)))

    return check


def _readability(text: str) -> Iterator[Finding]:
    score = flesch_reading_ease(text)
    if score is not None and score < 30:
        yield Finding(
            "major", _sentences(text)[0][:120], f"Hard to read (Flesch reading ease {score:.0f}; aim for 50+)."
        )


def _long_sentences(text: str) -> Iterator[Finding]:
    for s in _sentences(text):
        n = len(_WORD.findall(s))
        if n > 30:
            yield Finding("minor", s[:120], f"Long sentence ({n} words); split it.")


_DEFINED_AFTER = re.compile(r"\(([A-Z][A-Z0-9]{1,5})\)")  # "Data Loss Prevention (DLP)"
_DEFINED_BEFORE = re.compile(r"\b([A-Z][A-Z0-9]{1,5})\s*\(")  # "DLP (data loss prevention)"


def _undefined_acronyms(text: str) -> Iterator[Finding]:
    # The definitions are found once, in two linear passes (not one search of the whole text per acronym).
    defined = {m.group(1) for m in _DEFINED_AFTER.finditer(text)} | {m.group(1) for m in _DEFINED_BEFORE.finditer(text)}
    seen: set[str] = set()
    for m in _ACRONYM.finditer(text):
        acronym = m.group(0).rstrip("s") if m.group(0).endswith("s") and len(m.group(0)) > 2 else m.group(0)
        if acronym in seen or acronym in _COMMON_ACRONYMS or any(c.isdigit() for c in acronym[:1]):
            continue
        seen.add(acronym)
        if acronym not in defined:
            yield Finding("minor", _quote(text, m.start(), m.end(), 40), f"'{acronym}' is not defined.")


def _claims_without_figures(text: str) -> Iterator[Finding]:
    for sentence in _SENTENCE.finditer(text):
        m = _CLAIM.search(sentence.group(0))
        if m and not _FIGURE.search(sentence.group(0)):
            start = sentence.start() + m.start()
            yield Finding("major", _quote(text, start, start + len(m.group(0))),
                          f"'{m.group(0)}' claims a change without a figure or unit.")


def _absent(pattern: re.Pattern[str], severity: str, note: str) -> Check:
    def check(text: str) -> Iterator[Finding]:
        if not pattern.search(text):
            yield Finding(severity, "", note)

    return check


def _no_numbers(text: str) -> Iterator[Finding]:
    if not _DIGIT.search(text) and not _NUMBER_WORDS.search(text):
        yield Finding("major", "", "No numbers back the message (prices, savings, dates, results).")


def _personal_data(text: str) -> Iterator[Finding]:
    for m in _EMAIL.finditer(text):
        if not _ROLE_MAILBOX.match(m.group(0)):  # legal@, support@: a role's mailbox, not a person's
            yield Finding("critical", m.group(0), "Personal data: an e-mail address is exposed.")
    for m in _PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group(0)) >= 7 and not _YEAR_RANGE.match(m.group(0).strip()):
            yield Finding("critical", m.group(0).strip(), "Personal data: a phone number is exposed.")


# Strength reported when a check finds nothing.
CHECKS: dict[str, list[tuple[Check, str]]] = {
    "technical": [
        (_readability, "Readable."),
        (_long_sentences, "Sentences are a readable length."),
        (_undefined_acronyms, "Acronyms are defined."),
        (_claims_without_figures, "Claims come with figures."),
        (_matches(_VAGUE, "minor", lambda w: f"Vague wording: '{w}'."), "Wording is specific."),
    ],
    "business": [
        (_absent(_VALUE, "major", "No clear value for the reader (savings, revenue, benefit)."), "States its value."),
        (_absent(_AUDIENCE, "minor", "No audience is addressed (you, customers, teams)."), "Speaks to its audience."),
        (_no_numbers, "Backs the message with numbers."),
        (_absent(_ACTION, "major", "No call to action: what should the reader do next?"), "Ends with a next step."),
        (_matches(_HEDGE, "minor", lambda w: f"Hedging: '{w}' weakens the message."), "Confident, no hedging."),
    ],
    "legal": [
        (
            _matches(_ABSOLUTE, "critical", lambda w: f"Absolute promise: '{w}' may be held to the letter.",
                     negatable=True),
            "No absolute promises.",
        ),
        (
            _matches(
                _WAIVER,
                "major",
                lambda w: f"Waiver or liability wording: '{w}' — check it is deliberate and enforceable.",
                negatable=True,
            ),
            "No waiver or liability wording.",
        ),
        (
            _matches(_UNILATERAL, "critical",
                     lambda w: f"One-sided change: '{w}' — terms changed without notice may be unenforceable."),
            "No terms that change without notice.",
        ),
        (
            _matches(_HIGH_INTEREST, "major",
                     lambda w: f"High interest or fees: '{w}' — many jurisdictions cap late-payment interest."),
            "No excessive interest.",
        ),
        (
            _matches(_IP_GRAB, "critical",
                     lambda w: f"Takes all intellectual property: '{w}' — limit it to what the deal needs."),
            "Intellectual property stays with its owner.",
        ),
        (
            _matches(_NO_REFUND, "major",
                     lambda w: f"No refunds at all: '{w}' — consumer law often requires a withdrawal period."),
            "Refunds are possible.",
        ),
        (
            _matches(_PERPETUAL, "minor", lambda w: f"'{w}' terms are hard to undo."),
            "No perpetual or irrevocable terms.",
        ),
        (_personal_data, "No personal data exposed."),
    ],
}
GENERAL = [
    (_readability, "Readable."),
    (_long_sentences, "Sentences are a readable length."),
    (_matches(_HEDGE, "minor", lambda w: f"Hedging: '{w}'."), "Confident, no hedging."),
    (_matches(_ABSOLUTE, "major", lambda w: f"Absolute claim: '{w}'.", negatable=True), "No absolute claims."),
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
        async for event in stream_local(body.splitlines(keepends=True), len(_WORD.findall(request.task.document)),
                                        len(body.split())):
            yield event
