"""Engines ranked across the history: Bradley–Terry ratings from pairwise outcomes, judge verdicts and human votes
kept apart (two leaderboards, never one mixed table).

What counts as a comparison, by source:

- **judge**: in every finished translation run with a judge, each two real translations the judge scored: the
  higher judge score (0–100, the run-level mean over the source segments) wins, equal scores tie. One comparison
  per pair of engines per run — the segments of one run are not independent evidence, so they are not counted
  as many comparisons. Failed branches, non-translations (a copy of the source, another language…: no verdict)
  and pairs in which one engine is the judge itself are left out, and counted as left out. Runs of the same text,
  language pair, judge and protocol (segments or single: a translation is scored alone, so its score means the
  same in another run) also compare engines that never met in one run of that text, on their mean scores.
  Reviews have no judge verdicts: a review's score (0–10) rates the reviewed text, not the review, so a higher
  score means a more lenient reviewer, not a better one. Only human votes rank reviewers.
- **votes**: each blind vote on two whole outputs of different engines: the winner wins; a tie counts half a win
  for each (as Chatbot Arena does); "both bad" says nothing about which is better and is left out. A voter's
  per-segment picks on one translation run count as one comparison per pair, like the judge's run-level score:
  the engine that won more of the segments both were voted on wins, as many tie (else a run of 40 segments would
  weigh 40 times a whole-output vote).

Ratings (parallax.bradley_terry): Bradley–Terry strengths fitted with choix on the win matrix (ties as half wins),
lightly regularised, on an Elo-like scale: 400·log10 of the strength, the mean engine at 1000 (a 100-point gap:
the higher one is expected to win 64% of the time). 95% intervals are percentiles of RESAMPLES bootstrap fits over
runs drawn with replacement (seeded; runs of the same text are drawn together, as they are not independent); an
interval is open on a side where the data set no bound (an engine that never lost has no upper bound). An engine
behind fewer than THRESHOLD comparisons is listed last, unranked, as "not enough comparisons". The date filter is
the run's date: what is rated is the output, made when the run ran.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parallax.storage import RunRecord, Store
    from parallax.votes import Vote

SOURCES = ("judge", "votes")
SOURCE_NAMES = {"judge": "judge verdicts", "votes": "human votes"}
THRESHOLD = 10  # comparisons below which an engine is "not enough comparisons"
RESAMPLES = 300
CROSS_RUN_PROTOCOLS = ("segments", "single")  # "compare" scores side by side: relative to that run's candidates
REVIEW_NOTE = ("Reviews have no judge verdicts: a review's score rates the reviewed text, not the review (a higher "
               "score is a more lenient reviewer, not a better one). Human votes rank reviewers.")
NOT_ENOUGH = "not enough comparisons"


@dataclass(frozen=True)
class Comparison:
    """One pairwise outcome: `first` and `second` are engine ids (sorted), `outcome` 1 when first was better, 0
    when second was, 0.5 a tie."""

    run_id: str  # "A+B" for a comparison across two runs of the same text
    unit: str  # what the bootstrap draws: the input text's hash (runs of the same text are drawn together)
    created_at: str
    mode: str
    pair: str | None  # translations: "en-de"
    perspective: str | None  # reviews
    first: str
    second: str
    outcome: float
    judge: str | None = None


@dataclass(frozen=True)
class LeftOut(Comparison):
    """An output or a vote that gave no comparison, and why: filtered like one (an output alone is `first`)."""

    reason: str = ""


def _left(record: RunRecord, reason: str, first: str = "", second: str = "", perspective: str | None = None
          ) -> LeftOut:
    return LeftOut(record.run_id, text_key(record.input_text), record.created_at, record.mode,
                   language_pair(record.settings), perspective, first, second, math.nan, reason=reason)


@dataclass(frozen=True)
class Filters:
    mode: str | None = None  # review | translate
    pair: str | None = None  # "en-de"
    perspective: str | None = None
    engines: tuple[str, ...] = ()  # one: its comparisons; several: only the comparisons among them
    since: str | None = None  # YYYY-MM-DD: runs from that day on

    def keep(self, c: Comparison) -> bool:
        if self.mode and c.mode != self.mode:
            return False
        if self.pair and c.pair != normal_pair(self.pair):
            return False
        if self.perspective and c.perspective != self.perspective:
            return False
        if len(self.engines) == 1 and self.engines[0] not in (c.first, c.second):
            return False
        if len(self.engines) > 1 and not {c.first, c.second} <= set(self.engines):
            return False
        return not (self.since and c.created_at[:10] < self.since[:10])

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "engines": list(self.engines)}


@dataclass
class Collected:
    """The comparisons of one source over the history, and what was left out and why."""

    source: str
    comparisons: list[Comparison] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class Standing:
    engine: str
    rating: float
    low: float | None  # 95% bootstrap interval; None: open (the data set no bound on that side)
    high: float | None
    comparisons: int
    wins: int
    losses: int
    ties: int
    enough: bool
    rank: int | None  # None: not enough comparisons

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": "ranked" if self.enough else NOT_ENOUGH}


@dataclass
class Leaderboard:
    source: str
    filters: Filters
    standings: list[Standing]
    comparisons: int
    runs: int
    texts: int
    resamples: int
    threshold: int
    judges: dict[str, int] = field(default_factory=dict)  # judge source: judge → comparisons it decided
    left_out: dict[str, int] = field(default_factory=dict)
    note: str | None = None

    @property
    def empty(self) -> bool:
        return not self.standings

    def basis(self) -> str:
        """What the ratings rest on, in one paragraph (the page's caption, the CLI's footer)."""
        if self.source == "judge":
            what = ("judge verdicts: in each translation run, every two translations the judge scored (0–100, the "
                    "mean over the segments); the higher score wins, equal scores tie; one comparison per pair of "
                    "engines per run")
        else:
            what = ("human votes: each blind vote between two engines' outputs, a voter's segment picks on one "
                    "run as one vote per pair (more segments won); a tie is half a win for each, 'both bad' is left "
                    "out")
        open_ = (" An open interval (∞): the engine never lost (or never won) in over 2.5% of the resamples, so the "
                 "data set no bound on that side." if any(s.low is None or s.high is None for s in self.standings)
                 else "")
        judges = open_ + (f" Judged by {', '.join(f'{j} ({n})' for j, n in self.judges.items())}." if self.judges
                          else "")
        left = (f" Left out: {'; '.join(f'{why} ({n})' for why, n in self.left_out.items())}."
                if self.left_out else "")
        return (f"Bradley–Terry ratings from {what}: {self.comparisons} comparisons from {self.runs} runs "
                f"({self.texts} texts). Elo-like scale (mean engine 1000; +100 ≈ 64% expected wins); 95% intervals "
                f"from {self.resamples} bootstrap resamples of the runs; fewer than {self.threshold} comparisons is "
                f"'{NOT_ENOUGH}'.{judges}{left}")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "filters": self.filters.to_dict(), "basis": self.basis(),
                "comparisons": self.comparisons, "runs": self.runs, "texts": self.texts,
                "resamples": self.resamples, "threshold": self.threshold, "judges": self.judges,
                "left_out": self.left_out, "note": self.note, "standings": [s.to_dict() for s in self.standings]}


def normal_pair(pair: str) -> str:
    """"EN-de", "en→de", "en_de" → "en-de"."""
    for sep in ("→", "_", ">", "/"):
        pair = pair.replace(sep, "-")
    return "-".join(part.strip() for part in pair.lower().split("-") if part.strip())


def language_pair(settings: dict[str, Any]) -> str | None:
    translation = settings.get("translation") or {}
    if not translation.get("source") or not translation.get("target"):
        return None
    return normal_pair(f"{translation['source']}-{translation['target']}")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _ordered(a: str, sa: float, b: str, sb: float) -> tuple[str, str, float]:
    """The pair sorted by engine id, with the outcome for the first."""
    outcome = 0.5 if math.isclose(sa, sb, abs_tol=1e-9) else 1.0 if sa > sb else 0.0
    return (a, b, outcome) if a < b else (b, a, 1.0 - outcome)


def judged_scores(record: RunRecord, left_out: list[LeftOut]) -> dict[str, float]:
    """A translation run's judge score of each engine that has a verdict (the mean when an engine answered twice)."""
    judge = (record.settings.get("translation") or {}).get("judge")
    found: dict[str, list[float]] = defaultdict(list)
    for r in record.results.values():
        if r.status != "ok":
            left_out.append(_left(record, "failed outputs", r.answered_by or r.engine))
        elif r.non_translation:
            left_out.append(_left(record, "non-translations, which get no verdict", r.answered_by or r.engine))
        elif r.judge_score is not None:
            found[r.answered_by or r.engine].append(r.judge_score)
    if judge in found:
        left_out.append(_left(record, "outputs of the judge itself", judge))
        del found[judge]
    return {engine: sum(scores) / len(scores) for engine, scores in found.items()}


def judge_comparisons(record: RunRecord, left_out: list[LeftOut] | None = None) -> list[Comparison]:
    """Every two judged translations of one run: the higher judge score wins."""
    left_out = [] if left_out is None else left_out
    judge = (record.settings.get("translation") or {}).get("judge")
    if record.mode != "translate" or record.status == "running":
        return []
    if not judge:
        left_out.append(_left(record, "runs without a judge"))
        return []
    scores = judged_scores(record, left_out)
    unit, pair = text_key(record.input_text), language_pair(record.settings)
    return [Comparison(record.run_id, unit, record.created_at, record.mode, pair, None, *_ordered(a, sa, b, sb),
                       judge=judge) for (a, sa), (b, sb) in combinations(sorted(scores.items()), 2)]


def across_runs(records: list[RunRecord]) -> list[Comparison]:
    """Runs of the same text, pair, judge and protocol: engines that never met in one of them, on mean scores."""
    groups: dict[tuple[str, str | None, str, str], list[RunRecord]] = defaultdict(list)
    for record in records:
        translation = record.settings.get("translation") or {}
        protocol = translation.get("judge_protocol") or "segments"
        if record.mode == "translate" and record.status != "running" and translation.get("judge") \
                and protocol in CROSS_RUN_PROTOCOLS:
            groups[(text_key(record.input_text), language_pair(record.settings), translation["judge"],
                    protocol)].append(record)
    found = []
    for (unit, pair, judge, _), group in groups.items():
        if len(group) < 2:
            continue
        met: set[tuple[str, str]] = set()
        scores: dict[str, list[tuple[float, RunRecord]]] = defaultdict(list)
        for record in group:
            judged = judged_scores(record, [])
            met.update(combinations(sorted(judged), 2))
            for engine, score in judged.items():
                scores[engine].append((score, record))
        for a, b in combinations(sorted(scores), 2):
            if (a, b) in met:
                continue
            runs = sorted({r.run_id: r for _, r in scores[a] + scores[b]}.values(), key=lambda r: r.created_at)
            mean_a = sum(s for s, _ in scores[a]) / len(scores[a])
            mean_b = sum(s for s, _ in scores[b]) / len(scores[b])
            found.append(Comparison("+".join(r.run_id for r in runs), unit, runs[0].created_at, "translate", pair,
                                    None, *_ordered(a, mean_a, b, mean_b), judge=judge))
    return found


def vote_comparisons(record: RunRecord, votes: list[Vote], left_out: list[LeftOut] | None = None) -> list[Comparison]:
    """A run's votes as comparisons between the engines of the two outputs voted on; a voter's segment votes on it
    as one comparison per pair (the engine that won more of those segments)."""
    left_out = [] if left_out is None else left_out
    found = []
    segments: dict[tuple[str, str, str], list[float]] = defaultdict(list)  # (voter, first, second) → outcomes
    unit, pair = text_key(record.input_text), language_pair(record.settings)
    for vote in votes:
        left, right = record.results.get(vote.left), record.results.get(vote.right)
        if left is None or right is None:
            left_out.append(_left(record, "votes on outputs no longer in the run"))
            continue
        a, b = left.answered_by or left.engine, right.answered_by or right.engine
        if vote.outcome == "both bad" or a == b:
            same = record.mode == "review" and left.perspective == right.perspective
            why = "'both bad' votes" if a != b else "votes between two outputs of one engine"
            left_out.append(_left(record, why, min(a, b), max(a, b), left.perspective if same else None))
            continue
        score_a = {"left": 1.0, "right": 0.0}.get(vote.outcome, 0.5)
        first, second, outcome = _ordered(a, score_a, b, 1.0 - score_a)
        if vote.segment is not None:
            segments[(vote.voter, first, second)].append(outcome)
            continue
        perspective = left.perspective if record.mode == "review" and left.perspective == right.perspective else None
        found.append(Comparison(record.run_id, unit, record.created_at, record.mode, pair, perspective, first,
                                second, outcome))
    for (_, first, second), outcomes in segments.items():
        found.append(Comparison(record.run_id, unit, record.created_at, record.mode, pair, None,
                                *_ordered(first, sum(outcomes), second, len(outcomes) - sum(outcomes))))
    return found


def collect(store: Store, source: str, mode: str | None = None, since: str | None = None) -> Collected:
    """The comparisons of one source over the whole history (optionally only one mode's runs, or from a date)."""
    if source not in SOURCES:
        raise ValueError(f"the source is one of: {', '.join(SOURCES)}")
    collected = Collected(source)
    if source == "judge":
        if mode == "review":
            collected.note = REVIEW_NOTE
            return collected
        listed = store.list_runs("translate", since=since, limit=10**9)
        records = [store.load_run(r["run_id"]) for r in listed if r["status"] != "running"]
        for record in records:
            collected.comparisons += judge_comparisons(record, collected.left_out)
        collected.comparisons += across_runs(records)
        return collected
    by_run: dict[str, list[Vote]] = defaultdict(list)
    for vote in store.votes():
        by_run[vote.run_id].append(vote)
    for run_id, votes in by_run.items():
        record = store.load_run(run_id)
        if (mode and record.mode != mode) or (since and record.created_at[:10] < since[:10]):
            continue
        collected.comparisons += vote_comparisons(record, votes, collected.left_out)
    return collected


def rate(collected: Collected, filters: Filters | None = None, resamples: int = RESAMPLES, seed: int = 26,
         threshold: int = THRESHOLD) -> Leaderboard:
    """Fit the ratings and their bootstrap intervals over the comparisons the filters keep."""
    from parallax.bradley_terry import fit_ratings

    filters = filters or Filters()
    kept = [c for c in collected.comparisons if filters.keep(c)]
    note = REVIEW_NOTE if collected.source == "judge" and filters.mode == "review" else collected.note
    units = sorted({c.unit for c in kept})
    board = Leaderboard(collected.source, filters, [], len(kept), len({r for c in kept for r in c.run_id.split("+")}),
                        len(units), resamples, threshold, dict(Counter(c.judge for c in kept if c.judge).most_common()),
                        dict(Counter(x.reason for x in collected.left_out if filters.keep(x)).most_common()), note)
    if not kept:
        return board
    engines = sorted({e for c in kept for e in (c.first, c.second)})
    index, unit_index = {e: i for i, e in enumerate(engines)}, {u: i for i, u in enumerate(units)}
    fitted = fit_ratings(len(engines), [index[c.first] for c in kept], [index[c.second] for c in kept],
                         [c.outcome for c in kept], [unit_index[c.unit] for c in kept], resamples, seed)
    wins: Counter[str] = Counter()
    losses: Counter[str] = Counter()
    ties: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for c in kept:
        counts.update((c.first, c.second))
        if c.outcome == 0.5:
            ties.update((c.first, c.second))
        else:
            winner, loser = (c.first, c.second) if c.outcome > 0.5 else (c.second, c.first)
            wins[winner] += 1
            losses[loser] += 1
    order = sorted(range(len(engines)), key=lambda i: (counts[engines[i]] < threshold, -fitted.rating[i], engines[i]))
    rank = 0
    for i in order:
        engine, enough = engines[i], counts[engines[i]] >= threshold
        rank += enough
        board.standings.append(Standing(
            engine, round(fitted.rating[i], 1), None if math.isinf(fitted.low[i]) else round(fitted.low[i], 1),
            None if math.isinf(fitted.high[i]) else round(fitted.high[i], 1), counts[engine], wins[engine],
            losses[engine], ties[engine], enough, rank if enough else None))
    return board


def leaderboard(store: Store, source: str = "judge", filters: Filters | None = None, resamples: int = RESAMPLES,
                seed: int = 26, threshold: int = THRESHOLD) -> Leaderboard:
    """The leaderboard of one source over the history, as the CLI and the page show it."""
    filters = filters or Filters()
    return rate(collect(store, source, filters.mode, filters.since), filters, resamples, seed, threshold)
