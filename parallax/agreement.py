"""Judge–human agreement: how often the judge decided a voted pair the way the people who voted did.

For each vote, the judge's decision on the same pair is read from the run:
- a translation's segment vote: the judge's score of each side on that segment (0–100);
- a translation's whole-output vote: each side's judge score (its mean over the segments);
- a review vote: each side's own score (0–10) — a review has no separate judge, so "the judge" is the reviewing
  engine's score, and the votes are grouped under that engine (or under "review scores" when the two sides come
  from two engines).
The higher score is the judge's pick; equal scores are the judge's tie.

Three classes, left / right / tie. A human "tie" and "both bad" both say neither side is better, so both count as
the class tie. Ties follow WMT's meta-evaluation with tie calibration (Deutsch et al., 2023, pairwise accuracy as
used from WMT23): a human tie agrees only with a judge tie (equal scores), never with a judge's pick, and a judge
tie agrees only with a human tie. Nothing is excluded for being a tie; votes the judge did not decide (a side
without a score, or no judge in the run) are left out and counted.

Pairwise agreement is the share of votes where the judge is on the human's side, with a Wilson 95% interval.
Cohen's kappa over the three classes is computed here (no scikit-learn), with a 95% percentile bootstrap interval
over the votes (2,000 resamples, fixed seed). Chance agreement p_e is kappa's: the agreement two raters with these
class frequencies would reach by chance. When the whole agreement interval lies below p_e, the judge disagrees with
the votes more often than chance explains.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from parallax.votes import Vote

CLASSES = ("left", "right", "tie")
Z95 = 1.959963984540054
BOOTSTRAP = 2000
REVIEW_SCORES = "review scores"


class Scored(Protocol):
    engine: str
    score: float | None
    judge_score: float | None
    segment_scores: list[float | None]


class RunLike(Protocol):
    """A stored or live run: RunRecord and RunOutcome both fit."""

    mode: str
    settings: dict[str, Any]

    @property
    def results(self) -> Mapping[str, Any]: ...


def human_class(vote: Vote) -> str:
    """left, right, or tie (a tie and "both bad" both say neither side is better)."""
    return vote.outcome if vote.outcome in ("left", "right") else "tie"


def judge_class(left: float | None, right: float | None) -> str | None:
    """The judge's side from its two scores: the higher one; equal scores are a tie; None if a score is missing."""
    if left is None or right is None:
        return None
    if math.isclose(left, right, rel_tol=0, abs_tol=1e-9):
        return "tie"
    return "left" if left > right else "right"


def judge_name(run: RunLike, vote: Vote) -> str | None:
    """Whose decisions the vote is compared with: the translation judge's engine id, or for a review the engine
    both sides come from (or "review scores" for two engines). None: a translation run without a judge."""
    if run.mode == "translate":
        judge = (run.settings.get("translation") or {}).get("judge")
        return str(judge) if judge else None
    engines = {run.results[b].engine for b in (vote.left, vote.right) if b in run.results}
    return engines.pop() if len(engines) == 1 else REVIEW_SCORES


def _score(result: Scored | None, mode: str, segment: int | None) -> float | None:
    if result is None:
        return None
    if mode != "translate":
        return result.score
    if segment is None:
        return result.judge_score
    scores = result.segment_scores
    return scores[segment] if 0 <= segment < len(scores) else None


def judge_decision(run: RunLike, vote: Vote) -> str | None:
    """The judge's class for the voted pair: left, right, tie, or None (it did not decide this pair)."""
    if run.mode == "translate" and judge_name(run, vote) is None:
        return None
    left, right = (_score(run.results.get(b), run.mode, vote.segment) for b in (vote.left, vote.right))
    return judge_class(left, right)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def chance_agreement(pairs: list[tuple[str, str]]) -> float:
    """p_e = Σ over classes of (human's share of the class) × (judge's share of it)."""
    n = len(pairs)
    return sum(sum(h == c for h, _ in pairs) * sum(j == c for _, j in pairs) for c in CLASSES) / (n * n) if n else 0.0


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """(p_o − p_e) / (1 − p_e) over the classes left / right / tie; None when p_e is 1 (both always said the same
    one class: kappa is undefined)."""
    if not pairs:
        return None
    observed = sum(h == j for h, j in pairs) / len(pairs)
    expected = chance_agreement(pairs)
    return None if math.isclose(expected, 1.0) else (observed - expected) / (1 - expected)


def bootstrap_kappa(pairs: list[tuple[str, str]], rounds: int = BOOTSTRAP, seed: int = 0
                    ) -> tuple[float, float] | None:
    """95% percentile interval of kappa over resamples of the votes (resamples where kappa is undefined are
    skipped); None below 2 votes."""
    if len(pairs) < 2:
        return None
    rng = random.Random(seed)
    values = sorted(k for _ in range(rounds)
                    if (k := cohen_kappa([pairs[rng.randrange(len(pairs))] for _ in pairs])) is not None)
    if not values:
        return None
    return values[int(0.025 * (len(values) - 1))], values[math.ceil(0.975 * (len(values) - 1))]


@dataclass(frozen=True)
class Agreement:
    """One judge against the votes on the pairs it also decided."""

    judge: str
    n: int  # votes the judge also decided
    agreed: int
    low: float  # Wilson 95% interval of the agreement rate
    high: float
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    chance: float  # p_e
    human_ties: int  # of the n: votes for tie or both bad
    undecided: int  # votes left out: the judge had no score for a side

    @property
    def rate(self) -> float | None:
        return self.agreed / self.n if self.n else None

    @property
    def below_chance(self) -> bool:
        """The agreement's whole 95% interval lies below the agreement chance would give."""
        return self.n > 0 and self.high < self.chance

    @property
    def subject(self) -> str:
        return "The reviews' own scores" if self.judge == REVIEW_SCORES else f"The judge ({self.judge})"

    def sentence(self, whose: str = "your votes") -> str:
        """"The judge (X) agreed with your votes on 7 of 9 (78%, 95% CI 45–94%), Cohen's κ 0.55 (…)"."""
        if not self.n:
            return (f"{self.subject} scored neither side of the {self.undecided} voted pair(s): no "
                    "agreement to show yet.")
        kappa = "Cohen's κ undefined (every vote and every decision in one class)" if self.kappa is None else (
            f"Cohen's κ {self.kappa:.2f}" + (f" (95% CI {self.kappa_low:.2f} to {self.kappa_high:.2f})"
                                            if self.kappa_low is not None and self.kappa_high is not None else ""))
        left_out = f"; {self.undecided} vote(s) it did not decide left out" if self.undecided else ""
        return (f"{self.subject} agreed with {whose} on {self.agreed} of {self.n} "
                f"({100 * self.agreed / self.n:.0f}%, 95% CI {100 * self.low:.0f}–{100 * self.high:.0f}%), "
                f"{kappa}; chance agreement {100 * self.chance:.0f}%{left_out}.")

    def warning(self) -> str | None:
        if not self.below_chance:
            return None
        verb = "disagree" if self.judge == REVIEW_SCORES else "disagrees"
        return (f"{self.subject} {verb} with these votes more often than chance would explain: the agreement's 95% "
                f"interval ({100 * self.low:.0f}–{100 * self.high:.0f}%) lies below the {100 * self.chance:.0f}% "
                "two raters with these answer frequencies would reach by chance. Do not trust these verdicts for "
                "this kind of text without checking.")

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "votes": self.n, "agreed": self.agreed, "agreement": self.rate,
                "agreement_low": self.low, "agreement_high": self.high, "kappa": self.kappa,
                "kappa_low": self.kappa_low, "kappa_high": self.kappa_high, "chance": self.chance,
                "human_ties": self.human_ties, "undecided": self.undecided, "below_chance": self.below_chance}


def agreement(judge: str, pairs: list[tuple[str, str]], undecided: int = 0) -> Agreement:
    """Agreement of one judge from (human class, judge class) pairs."""
    agreed = sum(h == j for h, j in pairs)
    low, high = wilson(agreed, len(pairs))
    interval = bootstrap_kappa(pairs)
    return Agreement(judge, len(pairs), agreed, low, high, cohen_kappa(pairs),
                     interval[0] if interval else None, interval[1] if interval else None,
                     chance_agreement(pairs), sum(h == "tie" for h, _ in pairs), undecided)


def by_judge(voted: Iterable[tuple[RunLike, Iterable[Vote]]]) -> list[Agreement]:
    """Agreement per judge model over runs and their votes (a run's votes with the run they were cast on), the
    judges with the most decided votes first. Translation runs without a judge add nothing."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    undecided: dict[str, int] = {}
    for run, votes in voted:
        for vote in votes:
            name = judge_name(run, vote)
            if name is None:
                continue
            decided = judge_decision(run, vote)
            pairs.setdefault(name, [])
            if decided is None:
                undecided[name] = undecided.get(name, 0) + 1
            else:
                pairs[name].append((human_class(vote), decided))
    found = [agreement(name, found, undecided.get(name, 0)) for name, found in pairs.items()]
    return sorted(found, key=lambda a: (-a.n, a.judge))
