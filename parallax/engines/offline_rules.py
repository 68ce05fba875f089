"""The word lists and patterns behind `offline:rules`, and the text helpers its checks share. Every pattern is
bounded (no nested open-ended repetition) so no crafted text makes a search quadratic."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from parallax.results import Finding

Check = Callable[[str], Iterator[Finding]]

# A sentence ends at . ! ? followed by a space or the end ("4.0" and "e.g" do not end one), or at a line break.
SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?![\s]|$))+(?:[.!?]+|$)", re.MULTILINE)
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
DIGIT = re.compile(r"\d")


def words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)


ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,5}s?\b")
COMMON_ACRONYMS = frozenset(
    "AI API CEO CFO CPU CSV EU FAQ GPU HR HTML HTTP HTTPS ID IT JSON OK PDF PR Q1 Q2 Q3 Q4 SQL UI UK URL US USA UX "
    "USD EUR GBP AM PM TV PC OS IP CTO VP KB MB GB TB PB MS RAM SSD TLS SSL DNS UTF GET POST PUT PATCH DELETE HEAD "
    "REST SDK CLI CI CD TCP UDP SSH VPN LAN WAN ROM USB PNG JPEG GIF SVG XML YAML TOML CSS JS NPM AWS GCP GDPR ISO "
    "SLA KPI CRM ERP SEO PHP UTC GMT ASCII IDE RSS SMS FTP SMTP IMAP OAUTH JWT HTTP2 IPV4 IPV6 CORS NDA LLC LTD "
    "INC HMAC SHA AES RSA MD5 TTL LRU FIFO OCR GPS LED LCD HD UHD".split()
)
# Every quantifier is bounded (e-mail parts have length limits anyway): a long run of "a.a.a…" without an "@"
# cannot make the search quadratic.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{3,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?(?!\w|\.\d)"
)
# A figure is a number with a unit or a ratio; "4.0" in "Sync 4.0" is a version, not evidence.
FIGURE = re.compile(
    r"\d+(?:[.,]\d+)?\s?(?:%|x\b|×|ms\b|s\b|sec|seconds?|minutes?|hours?|days?|weeks?|months?|years?|"
    r"[KMGTP]i?B\b|[kMG]?bps\b|fps|rps|req/s|times|percent|users|requests|items|rows|"
    r"[kMG]?W\b|[kMG]?Wh\b|mAh\b|V\b|[kMG]?Hz\b|°[CF]|km\b|kg\b|m\b|cm\b|mm\b|g\b|l\b)",
)
NUMBER_WORDS = words(r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                     r"hundred|thousand|million|billion|dozen|half|twice|double|triple")
# Something a reader can check: a number, a version, code in backticks, a CONSTANT_NAME or snake_case name, a
# --flag or a /path.
SPECIFIC = re.compile(
    r"\d|`[^`\n]{1,80}`|\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+\b|(?<![\w-])--?[a-z][a-z-]{0,30}\b|(?<![\w/])/[a-z][\w.-]*"
)

ABSOLUTE = re.compile(
    words(r"guarantee[sd]?|always|never fails?|unlimited|forever|risk[- ]free|no risk|for life|"
          r"lifetime(?= (?:warranty|guarantee|access|support|licen[cs]e|deal|updates|subscription))").pattern
    + r"|\b100 ?%(?!\s*of\b)",  # "capped at 100% of the fees" is a limit, not a promise
    re.IGNORECASE,
)
# "We do not guarantee", "neither party waives": the words before a match take the promise or waiver back.
NEGATED = re.compile(r"\b(?:not|no|never|neither|nor|nothing|cannot|can't|don't|doesn't|won't|without)\W+"
                     r"(?:\w+\W+){0,2}$", re.IGNORECASE)
# "Either party may always terminate": a permission, not a promise.
PERMITTED = re.compile(r"\b(?:may|can|could|might)\s+$", re.IGNORECASE)
HEDGE = words(r"might|maybe|perhaps|possibly|hopefully|somewhat|we think|we believe|could potentially|sort of")

# --- technical ---
# Words that sound like information but give none: unmeasured size, speed, quality or scope ("thread-safe" and
# "fail-fast" name a property: a word after a hyphen is not counted).
VAGUE = re.compile(r"(?<!-)" + words(
    r"etc|various|several|some|many|a lot|lots of|plenty|soon|significant(?:ly)?|a while|at some point|eventually|"
    r"somewhere|someone|something|somehow|as needed|if needed|when convenient|appropriate|reasonabl[ey]|properly|"
    r"quick(?:ly)?|fast|easy|easily|smooth(?:ly)?|seamless(?:ly)?|safe(?:ly)?|secure(?:ly)?|nice(?:ly)?|good|"
    r"great|powerful|huge|massive|usual|common|modern|normal|really|very|extremely|best practices?|"
    r"most (?:cases|situations|devices|setups|people|environments)|any size|"
    r"(?:whatever|whenever|however) (?:you|it|they) (?:need|like|want|give|choose)|"
    r"as (?:many|much|long|often) as (?:you|it|they|we) (?:need|like|want)"
).pattern, re.IGNORECASE)
CLAIM = words(
    r"faster|slower|quicker|improved?|reduced?|increased?|better|more efficient|lower latency|higher throughput|"
    r"speeds? up|optimi[sz]ed"
)

# --- business ---
VALUE = words(r"saves?|savings?|revenue|profit|costs?|benefits?|ROI|grow\w*|customers?|value|faster|"
              r"efficien\w*|earn\w*|free|sooner")
MONEY = re.compile(r"[$€£¥]\s?\d|\d\s?(?:%|percent\b|USD\b|EUR\b|GBP\b|dollars\b|euros\b|pounds\b)", re.IGNORECASE)
AUDIENCE = words(r"you|your|customers?|users?|teams?|clients?|partners?|developers?|admins?")
_MONTH = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|" \
         r"nov(?:ember)?|dec(?:ember)?"
_DAY = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
ACTION = words(
    r"contact|sign up|try|upgrade|book|get started|learn more|download|visit|register|buy|subscribe|start|"
    r"join|install|update now|call us|reply|schedule|request|order|apply|get in touch|reach out|talk to|"
    r"create|claim|shop|add (?:the|it|us|our)|email us|write to us|call (?:now|today|\+?\d+)|"
    # or a dated next step, or someone who owns it: "due on 14 March", "a yes or no by Friday", "Priya owns it"
    rf"(?:by|before|on|until|due|from|in) (?:\d{{1,2}}(?:st|nd|rd|th)? )?(?:{_MONTH}|{_DAY})|"
    r"(?:by|before|until|due) (?:\d{1,2}(?:st|nd|rd|th)? |week \d|the end of|next (?:week|month|quarter))|"
    r"owner(?=:)|owns|in charge|deadline"
)
# Buzzwords, intensifiers and confidence with nothing behind it.
HYPE = words(
    r"leverag\w*|synerg\w*|empower\w*|world-class|best-in-class|best-ever|game-chang\w*|disrupt\w*|unlock\w*|"
    r"next-level|next level|next-generation|revolutionar\w*|cutting-edge|state-of-the-art|innovative|holistic|"
    r"omnichannel|seamless\w*|paradigm|transformation\w*|transformative|journey|excellence|passionate|unbeatable|"
    r"unmatched|unparalleled|incredible|amazing|awesome|fantastic|tremendous|huge|massive|delight\w*|iconic|truly|"
    r"really|super|through the roof|no-brainer|supercharg\w*|exciting|unforgettable|magical|ultimate|future-proof|"
    r"circling back|circle back|align\w*|stakeholders|going forward|strategic|new heights|big splash|definitely|"
    r"certainly|confident|nothing to worry|won't want to miss|love"
)

# --- legal: risks a careful reader would stop at ---
UNILATERAL = re.compile(
    r"\b(?:change|modify|amend|update|revise)\w*\s+(?:these|this|the|our)\s+(?:terms|agreement|prices?|fees)"
    r"[^.]{0,40}?(?:at any time|without (?:prior )?notice|(?:at )?(?:our|its) sole discretion)"
    r"|\b(?:terms|agreement|prices?|fees)\b[^.]{0,40}?\b(?:may|can|will) be (?:changed|modified|amended|updated)"
    r"[^.]{0,40}?(?:at any time|without (?:prior )?notice|(?:at )?(?:our|its) sole discretion)",
    re.IGNORECASE,
)
WAIVER = words(
    r"waive[sd]?|waiver|not (?:be )?liable|no liability|hold harmless|indemnif\w*|at (?:your|their) own risk|"
    r"without (?:any )?warrant\w*|as is|disclaim\w*|not responsible|no responsibility|not accountable|"
    r"cannot hold (?:us|them|the \w+) (?:responsible|liable|to account)|"
    r"give[sn]? up (?:any|all|every|your) (?:\w+ )?(?:rights?|claims?)|"
    r"agree (?:not|never) to (?:sue|take (?:us|them|the \w+) to court|bring (?:a |any )?claims?)"
)
PERPETUAL = words(r"irrevocabl[ey]|perpetual")
HIGH_INTEREST = re.compile(
    r"\b\d+(?:\.\d+)?\s?%\s+(?:per|a|each|every)\s+(?:month|week|day)\b|\bcompounded daily\b",
    re.IGNORECASE,
)
IP_GRAB = re.compile(
    r"\b(?:all|any)\s+(?:intellectual property|IP)\b[^.]{0,80}?\b(?:belongs? to|vests? in|is owned by|"
    r"(?:shall|will) be (?:the )?(?:sole |exclusive )?property of)"
    r"|\bassigns?\s+(?:all|any)\s+(?:intellectual property|IP|rights)\b",
    re.IGNORECASE,
)
# Ownership taken in plain words: "becomes ours to use", "you hand over all rights", "everything … belongs to".
TAKES = re.compile(
    r"\b(?:is|are|becomes?|stays?|remains?)\s+ours\b"
    r"|\b(?:hand|hands|handing|sign|signs|transfer|transfers)\s+over\s+(?:all|every|any|your)\s+(?:\w+\s+)?rights?\b"
    r"|\b(?:everything|anything|whatever)\b[^.;]{0,80}?\bbelongs?\s+to\b",
    re.IGNORECASE,
)
NO_REFUND = re.compile(
    r"\bno refunds?\b[^.]{0,40}?\b(?:under|in) any circumstances|\bnon-refundable under any circumstances|"
    r"\ball sales are final\b|\b(?:cannot|can't|will not|won't|not) be (?:\w+,?\s+){0,3}?refunded\b",
    re.IGNORECASE,
)
# No limit at all: on what, on whom, on where, on which costs.
SWEEPING = words(
    r"whatever|whoever|whenever|wherever|anyone|anybody|anything|everything|anywhere|any and all|"
    r"no matter (?:what|the cause|how|who)|for any (?:reason|cause|purpose)|however it arises|"
    r"(?:every|all) (?:\w+ ){0,2}?(?:loss|losses|cost|costs|claims?|damages|expenses)"
)
# The drafter's own restraint ("we will not share it with anyone") limits the drafter: not a sweeping clause.
OWN_RESTRAINT = re.compile(r"\b(?:we|I)\s+(?:will not|shall not|do not|must not|won't|don't|never)\b[^.;]*$",
                           re.IGNORECASE)
# One side decides alone: "whenever it suits us", "if we think", "for any reason", "with or without notice".
DISCRETION = re.compile(
    r"\b(?:as|if|when|whenever|however|wherever|whatever|whichever|what|whoever|anyone|anything)\s+(?:\w+\s+){0,2}?"
    r"(?:we|it|they|he|she|the \w+)\s+(?:\w+\s+){0,1}?(?:likes?|wants?|wish(?:es)?|chooses?|sees? fit|thinks?|"
    r"deems?|finds?|decides?|pleases?|suits?|needs?|sets?)\b"
    r"|\bwe (?:alone )?(?:will |may |shall |can )?(?:decide|determine|choose) (?:whether|if|when|how|what|which|who)\b"
    r"|\b(?:at|in) (?:our|its|their|his|her) (?:sole |absolute |own ){0,2}discretion\b"
    r"|\bfor (?:any|no) reason(?: or no reason)?|\bwithout (?:giving )?(?:a |any )?reason\b"
    r"|\bwith or without (?:\w+ ){0,2}?(?:notice|telling|warning|reason|cause|consent|asking)\w*"
    r"|\bwithout (?:asking|telling|notifying|warning|your consent|(?:prior |any )?notice)\b"
    r"|\bat any time\b",
    re.IGNORECASE,
)
# The reader's own right or a mutual one ("you may cancel at any time", "either party may end").
READERS_RIGHT = re.compile(
    r"\b(?:you|either|each|both|neither|the (?:customer|user|member|tenant|buyer|licensee|employee|subscriber|"
    r"consumer)s?)\b",
    re.IGNORECASE,
)
# A stated cap makes "whatever the cause" or "all claims" bounded after all.
CAPPED = re.compile(r"\b(?:capped|limited to|up to|no more than|at most|not (?:to )?exceed)\b", re.IGNORECASE)
# No way out: "you cannot get out of it", "only we can end this contract", "locked in for good".
LOCK_IN = re.compile(
    r"\b(?:cannot|can't|can not|may not|no way to|not able to|unable to)\s+(?:\w+\s+){0,2}?"
    r"(?:get out|leave|cancel|end|terminate|stop|quit|exit|withdraw|opt out)\b"
    r"|\blocked in\b|\bonly (?:we|us|the \w+) (?:can|may) (?:end|terminate|cancel)\w*"
    r"|\bcan only be (?:ended|terminated|cancelled|canceled) by\b|\bfor good\b|\bsee it through\b"
    r"|\bfor the rest of (?:your|their|his|her) (?:life|lives)\b|\bfor all time\b|\bin perpetuity\b",
    re.IGNORECASE,
)
# A power one side keeps: "we may change it", "the landlord can enter"; checked for a limit in the same sentence.
POWER = re.compile(
    r"\b(?:can|may|will|is free to|reserves? the right to)\s+(?!not\b|never\b)(?:\w+\s+){0,2}?"
    r"(?:chang|updat|modif|amend|alter|revis|rais|increas|set|suspend|shut|clos|cancel|terminat|end|shar|pass|"
    r"sell|transfer|disclos|keep|retain|stor|use|enter|come in|look|access|refus|charg|deduct|film|record|monitor|"
    r"remov|delet)\w*",
    re.IGNORECASE,
)
BOUND = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|thirty|sixty|ninety|once|twice|notice|"
    r"consent|no more than|up to|at most|limited to|capped|within|until|unless|only|if (?:you|the other|either))\b",
    re.IGNORECASE,
)
NOT_A_BOUND = re.compile(r"\bwithout (?:prior |any |giving )?(?:notice|consent)\b", re.IGNORECASE)
VAGUE_DUTY = words(
    r"seems?|sensible|when we can|if we can|where possible|as far as possible|from time to time|over time|"
    r"in due course|at some point|as appropriate|kind of"
)
ROLE_MAILBOX = re.compile(
    r"^(?:legal|support|help|info|sales|privacy|contact|hello|admin|billing|security|no-?reply|team|press|careers|"
    r"jobs|hr|office|abuse|webmaster|postmaster|dpo|compliance|accounts|service|feedback)@",
    re.IGNORECASE,
)
YEAR_RANGE = re.compile(r"^(?:19|20)\d\d\s?[-–]\s?(?:19|20)\d\d$")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]


def quote(text: str, start: int, end: int, width: int = 50) -> str:
    """The sentence around a match, clipped to `width` characters each side: an exact substring of the text."""
    left, right = start, end
    for m in SENTENCE.finditer(text):
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
    found = WORD.findall(text)
    split = sentences(text)
    if not found or not split:
        return None
    hyph = _hyphenator()
    syllables = sum(len(hyph.positions(w.lower())) + 1 for w in found)
    return 206.835 - 1.015 * (len(found) / len(split)) - 84.6 * (syllables / len(found))


def clause_before(text: str, start: int, width: int = 60) -> str:
    """The words before a match within its clause (up to the last . ! ? ; : , or line break)."""
    return re.split(r"[.!?;:,\n]", text[max(0, start - width):start])[-1]


def taken_back(text: str, start: int) -> bool:
    """Is the match negated or a mere permission ("do not guarantee", "neither party waives", "may always")?"""
    before = re.split(r"[.!?;\n]", text[max(0, start - 40):start])[-1]  # only within the sentence
    return bool(NEGATED.search(before) or PERMITTED.search(before))


def matches(pattern: re.Pattern[str], severity: str, note: Callable[[str], str], negatable: bool = False,
            skip: Callable[[str, int], bool] | None = None) -> Check:
    """A finding for each distinct match, quoting it; `skip(text, start)` drops a match its context excuses."""
    def check(text: str) -> Iterator[Finding]:
        seen: set[str] = set()
        for m in pattern.finditer(text):
            key = m.group(0).lower()
            if key in seen or (negatable and taken_back(text, m.start())) or (skip and skip(text, m.start())):
                continue
            seen.add(key)
            yield Finding(severity, quote(text, m.start(), m.end()), note(m.group(0)))

    return check
