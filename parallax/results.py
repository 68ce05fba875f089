"""The data a run produces: what a branch is asked to do, what it returned, and the aggregate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from parallax.documents import find_quote, page_at
from parallax.stats import Estimate, estimate

Status = Literal["ok", "error", "timeout", "truncated", "cancelled"]
STATUSES: tuple[Status, ...] = ("ok", "error", "timeout", "truncated", "cancelled")
SEVERITIES = ("critical", "major", "minor")
RUN_STATUSES = ("running", "completed", "partial", "failed", "interrupted")  # a whole run, as the history keeps it


@dataclass(frozen=True)
class BranchSpec:
    """One branch of a run: a perspective reviewed by an engine, in declared order."""

    branch_id: str
    order: int
    perspective: str
    engine: str
    weight: float = 1.0


@dataclass
class Finding:
    """One issue a judge found, quoting the text it is about."""

    severity: str
    quote: str
    note: str
    category: str = ""  # for translation errors: accuracy, fluency, terminology, style, locale
    chunk: int | None = None  # for a long document: the chunk the finding came from
    located: bool = True  # False: the quoted span is not in the text it is about (shown as such, never dropped)
    found_by: int | None = None  # with k judge samples: how many of them found this error
    page: int | None = None  # a review of a PDF: the page the quote is on
    segment: int | None = None  # a translation error: the source segment (unit) it is in, from 0; None: not placed

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class BranchResult:
    """What one branch returned. A failure is a status, never an exception; partial text is kept."""

    branch_id: str
    order: int
    engine: str
    perspective: str
    weight: float = 1.0
    status: Status = "ok"
    score: float | None = None
    text: str = ""
    error: str | None = None
    summary: str = ""
    strengths: list[str] = field(default_factory=list)
    issues: list[Finding] = field(default_factory=list)
    confidence: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None  # every call of the branch; None when any call's cost is unknown
    cost_known_usd: float = 0.0  # the calls whose cost is known (all of cost_usd when it is known)
    unpriced_calls: int = 0  # calls of unknown cost: no price, or no usage from a call that may be billed
    retries: int = 0
    queued_ms: float | None = None  # time spent waiting for a free slot on an engine with max_concurrency
    structured_mode: str | None = None  # how structured output was asked for: json_schema, json_object, tool, prompt
    exchange: dict[str, Any] | None = None  # what was sent (messages, schema, re-ask); the raw reply is `text`
    cached: bool = False  # answered from the history's cache of identical calls: no provider call, no cost
    # A long document is reviewed chunk by chunk: `chunk` on a part, `chunks` and `chunk_results` on the merge.
    chunk: int | None = None
    chunks: int = 1
    chunk_results: list[dict[str, Any]] = field(default_factory=list)
    # A two-step perspective: each step's timing (draft, then self-check), for the timeline.
    steps: list[dict[str, Any]] = field(default_factory=list)
    # Which engine of a fallback chain "A|B|C" answered, and the failures before it.
    answered_by: str | None = None
    fallbacks: list[dict[str, str | None]] = field(default_factory=list)
    # Translation quality: judge score 0-100 (mean of samples) and its spread, agreement with the others.
    judge_score: float | None = None
    judge_spread: float | None = None
    judge_error: str | None = None
    # Each sample's score, in sample order (judge samples for a translation, review samples with --samples K):
    # the mean, standard deviation and interval every view shows come from these.
    samples: list[float] = field(default_factory=list)
    non_translation: str | None = None  # "empty", "source copy", "wrong language (fr)", "pseudo-localisation"
    # Not confirmed as a translation: the language identifier is unsure and it agrees with no other candidate.
    unverified: bool = False
    # The translation cut along the source's segments (one entry per unit of the run's `units`), the judge's
    # score of each (0-100, mean over judge samples; None: not judged) and how the alignment went.
    segments: list[str] = field(default_factory=list)
    segment_scores: list[float | None] = field(default_factory=list)
    alignment: dict[str, Any] = field(default_factory=dict)
    agreement: float | None = None
    outlier: bool = False
    glossary: dict[str, bool] = field(default_factory=dict)
    chrf_reference: float | None = None
    bleu_reference: float | None = None
    # Seconds since the run started: when the branch began, saw its first token, ended.
    started_s: float | None = None
    first_token_s: float | None = None
    ended_s: float | None = None

    @property
    def ok(self) -> bool:
        """The branch came back: the one meaning of "succeeded" in every view (a translation that came back empty
        is an error, set by the runner). Whether it was also scored or judged is `scored`."""
        return self.status == "ok"

    @property
    def scored(self) -> bool:
        return self.status == "ok" and self.score is not None

    @property
    def estimate(self) -> Estimate | None:
        """The score with its uncertainty over the samples (None when there is no score)."""
        if not self.scored:
            return None
        segments = [v for v in self.segment_scores if v is not None]
        # A translation's uncertainty is over its segments (what varies in the world), else over the samples.
        scale = (0.0, 100.0) if self.judge_score is not None else (0.0, 10.0)
        found = (estimate(segments, "segments", scale) if len(segments) > 1
                 else estimate(self.samples, scale=scale) if len(self.samples) > 1 else None)
        return found or Estimate(1, self.score)  # type: ignore[arg-type]

    def cache_note(self) -> str:
        """What the cache did: a whole answer, or (in a fallback chain) only the last engine's, after real calls."""
        if not self.cached:
            return ""
        if not self.fallbacks:
            return "cached (no call)"
        called = ", ".join(str(f["engine"]) for f in self.fallbacks)
        retries = f", {self.retries} retries" if self.retries else ""
        return (f"{self.answered_by} answered from the cache (no call), after real calls that failed: "
                f"{called}{retries}")

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy was ~0.5 ms a result, a tenth of a batch call's CPU; the dict is
        # serialised at once by every caller (JSON for the history, the branches file and exports).
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["issues"] = [f.to_dict() for f in self.issues]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BranchResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["issues"] = [Finding(**f) for f in known.get("issues", [])]
        return cls(**known)


@dataclass
class Aggregate:
    """The branches merged by one reducer. `score` is None when no branch succeeded."""

    method: str
    score: float | None
    n_ok: int
    n_total: int
    spread: float | None
    formula: str
    best: str | None = None  # the winning branch, for select-best
    margin: float | None = None  # how far ahead of the runner-up it is
    n_scored: int | None = None  # of the n_ok that came back, how many have a score (reviews) or a judge score
    # select-best: what the pick rests on ("judge": scores paired over segments; "score": a review's score;
    # "agreement": chrF consensus, no quality judged), and the paired tests of the leader against every other.
    basis: str | None = None
    # True: the leader beats every other over the segments (paired permutation test, Holm ≤ 5%); False: it does
    # not; None: nothing was tested, or too few segments to tell.
    confident: bool | None = None
    lead_low: float | None = None  # the lead over the runner-up, 95% interval over the segments
    lead_high: float | None = None
    n_units: int | None = None  # the segments the tests were paired over
    p_value: float | None = None  # the largest Holm-adjusted p of the leader's tests
    tests: list[dict[str, Any]] = field(default_factory=list)
    consistency: str | None = None  # "the judge preferred it in 2 of 3 samples" (its self-consistency, not evidence)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Aggregate:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def verdict(self) -> str | None:
        """What select-best may claim, said the same way on the page, in the CLI and the exports."""
        if self.best is None:
            return None
        also = f"; {self.consistency}" if self.consistency else ""
        if self.basis == "agreement":
            return (f"{self.best} agrees most with the other engines: a consensus of the engines, not a judged "
                    f"quality (no judge scores){also}")
        if self.margin is None:
            return f"{self.best}: nothing to compare it with"
        if self.basis == "judge" and self.n_units is not None:
            runner = self.tests[0]["other"] if self.tests else "the runner-up"
            interval = (f", 95% CI {self.lead_low:g} to {self.lead_high:g}" if self.lead_low is not None
                        and self.lead_high is not None else "")
            if self.confident is True:
                return (f"{self.best} is best: ahead of every other translation over {self.n_units} segments "
                        f"(paired permutation test, Holm-adjusted p ≤ {self.p_value:.2g}; lead over {runner} "
                        f"{self.margin:g}{interval}){also}")
            if self.confident is False:
                return (f"no clear winner: {self.best} leads {runner} by {self.margin:g} over {self.n_units} "
                        f"segments{interval}, but that could be chance (paired permutation test, Holm-adjusted "
                        f"p = {self.p_value:.2g}){also}")
            return (f"too short to tell: {self.best} leads by {self.margin:g}, but {self.n_units} "
                    f"segment{'s' if self.n_units != 1 else ''} cannot show a difference at 5%{also}"
                    if self.margin else f"a tie: {self.best} and {runner} have the same judge score over "
                    f"{self.n_units} segment{'s' if self.n_units != 1 else ''}; {self.best} is shown because it "
                    f"is listed first{also}")
        return (f"{self.best} scored highest ({self.margin:g} ahead), untested: repeated samples measure the model's "
                f"consistency, not a difference{also}")

    def headline(self, mode: str = "translate") -> str:
        """The title over the pick: it never calls a pick "best" that no test or judge backs."""
        thing = "translation" if mode == "translate" else "branch"
        if self.best is None:
            return f"No best {thing}"
        if self.basis == "agreement":
            return f"Consensus {thing}: {self.best}"
        if self.confident is True:
            return f"Best {thing}: {self.best}"
        if self.confident is False:
            return f"No clear winner — {self.best} leads"
        if self.basis == "judge" and self.n_units is not None:
            return f"Too short to tell — {self.best} leads" if self.margin else f"A tie — {self.best} shown first"
        if self.margin is None:
            return f"Only {thing}: {self.best}"
        return f"Highest score: {self.best}"

    def scored_count(self, mode: str = "review") -> str | None:
        """ "judged 0 of 3" (translations) or "scored 2 of 3" (reviews) — only when it differs from succeeded."""
        if self.n_scored is None or self.n_scored == self.n_ok:
            return None
        return f"{'judged' if mode == 'translate' else 'scored'} {self.n_scored} of {self.n_total}"

    def counts(self, mode: str = "review") -> str:
        """ "2 of 3 succeeded", and how many were scored or judged when that differs: every view says it so."""
        scored = self.scored_count(mode)
        return f"{self.n_ok} of {self.n_total} succeeded" + (f", {scored}" if scored else "")


def locate_findings(result: BranchResult, document: str) -> None:
    """A review's quotes are looked for in the document it reviewed (the text extracted from a file): whether
    each is there, and on which page of a PDF."""
    for finding in result.issues:
        if finding.quote.strip():
            at = find_quote(document, finding.quote)
            finding.located, finding.page = at is not None, None if at is None else page_at(document, at)
