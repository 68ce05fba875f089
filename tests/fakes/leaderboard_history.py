"""A history with known preferences, for the leaderboard: translation runs whose judge scores follow engines' true
strengths, and review runs with blind votes drawn from a Bradley–Terry model of the same strengths. Runs are built
as the app builds them (plan_translate / plan_review with demo engines, a RunOutcome) and written with save_run,
the function the app uses to save a whole run; only their dates are set afterwards, one day apart.

    .venv/bin/python -m tests.fakes.leaderboard_history DIR   # writes DIR/history.db (for PARALLAX_HOME=DIR)
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from parallax.config import load_config
from parallax.reducers import reduce
from parallax.results import BranchResult
from parallax.run.execute import RunOutcome
from parallax.run.plan import plan_review, plan_translate
from parallax.storage import Store
from parallax.storage.history import save_run
from parallax.translate.request import TranslationSettings
from parallax.votes import Vote

# True strengths (natural-log Bradley–Terry); the order the leaderboard must recover.
STRENGTH = {"sim:strong": 0.9, "sim:good": 0.3, "sim:fair": -0.3, "sim:weak": -0.9}
VOTE_SCALE = 1.5  # voters' Bradley–Terry strengths: the same order, told apart a little more sharply than the judge
RARE = "sim:rare"  # in two runs only: not enough comparisons
JUDGE = "sim:judge"
START = date(2026, 1, 1)
SENTENCES = ["The update ships on Monday.", "Back up your files first.", "Support answers within a day.",
             "The old version stops working in May.", "Prices stay the same.", "Contact sales to upgrade."]


@dataclass
class Recorded:
    translations: list[str] = field(default_factory=list)  # run ids, oldest first
    reviews: list[str] = field(default_factory=list)
    dates: dict[str, str] = field(default_factory=dict)  # run id → YYYY-MM-DD


def _text(rng: random.Random, i: int) -> str:
    return f"Notice {i}. " + " ".join(rng.sample(SENTENCES, 3))


def _date(store: Store, run_id: str, day: date) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE runs SET created_at = :t WHERE run_id = :r",
                     {"t": f"{day.isoformat()}T09:00:00.000+00:00", "r": run_id})


def translation_run(store: Store, text: str, scores: dict[str, float | None], pair: tuple[str, str] = ("en", "de"),
                    judge: str | None = JUDGE, non_translation: dict[str, str] | None = None,
                    protocol: str = "segments") -> str:
    """One translation run whose engines got these judge scores (None: the branch failed); returns its id."""
    settings = TranslationSettings(pair[0], pair[1], judge=judge, judge_protocol=protocol)
    plan = plan_translate(text, load_config(env={}), settings, list(scores))
    outcome = RunOutcome.for_plan(plan)
    for spec in plan.branches:
        score = scores[spec.engine]
        flagged = (non_translation or {}).get(spec.engine)
        result = BranchResult(spec.branch_id, spec.order, spec.engine, spec.perspective,
                              status="ok" if score is not None else "error", text=f"[{spec.engine}] {text}",
                              error=None if score is not None else "the demo failed")
        if score is not None and not flagged and judge:
            result.judge_score = round(score, 2)
            result.segment_scores = [round(score + d, 2) for d in (-3.0, 0.0, 3.0)]  # the mean is the score
        result.non_translation = flagged
        outcome.results[spec.branch_id] = result
    outcome.aggregate = reduce(outcome.ordered(), plan.reducer)
    save_run(store, plan, outcome)
    return plan.run_id


def review_run(store: Store, text: str, engines: list[str], perspectives: tuple[str, ...] = ("technical",),
               scores: dict[str, float] | None = None) -> str:
    plan = plan_review(text, load_config(env={}), perspectives, engines)
    outcome = RunOutcome.for_plan(plan)
    for spec in plan.branches:
        outcome.results[spec.branch_id] = BranchResult(
            spec.branch_id, spec.order, spec.engine, spec.perspective, status="ok",
            score=(scores or {}).get(spec.engine, 5.0), summary=f"{spec.engine} on {spec.perspective}")
    outcome.aggregate = reduce(outcome.ordered(), plan.reducer)
    save_run(store, plan, outcome)
    return plan.run_id


def record_history(store: Store, runs: int = 30, reviews: int = 30, seed: int = 26, start: date = START) -> Recorded:
    """`runs` translation runs (every fifth en→fr, the others en→de) and `reviews` review runs with four votes
    each (5% both bad, 10% ties, else Bradley–Terry with VOTE_SCALE·strength), one a day from `start`. In each
    translation run a random 3 or 4 of the four engines; judge score 70 + 12·strength + N(0, 8), so the stronger of
    two usually wins (74% for neighbours, 97% strongest against weakest). The rare engine joins the first two runs; in
    the fourth run the weakest engine's output is a non-translation and the fair one failed, when they took part."""
    rng = random.Random(seed)
    recorded = Recorded()
    engines = list(STRENGTH)
    for i in range(runs):
        chosen = sorted(rng.sample(engines, rng.choice((3, 4))))
        scores: dict[str, float | None] = {e: 70 + 12 * STRENGTH[e] + rng.gauss(0, 8) for e in chosen}
        if i < 2:
            scores[RARE] = 70 + rng.gauss(0, 8)
        flagged = {"sim:weak": "source copy"} if i == 3 and "sim:weak" in scores else {}
        if i == 3 and "sim:fair" in scores:
            scores["sim:fair"] = None
        pair = ("en", "fr") if i % 5 == 4 else ("en", "de")
        run_id = translation_run(store, _text(rng, i), scores, pair, non_translation=flagged)
        day = start + timedelta(days=i)
        _date(store, run_id, day)
        recorded.translations.append(run_id)
        recorded.dates[run_id] = day.isoformat()
    rng = random.Random(f"{seed}-votes")  # its own stream: the votes do not change with the number of translations
    for i in range(reviews):
        run_id = review_run(store, _text(rng, 1000 + i), engines)
        day = start + timedelta(days=i)
        _date(store, run_id, day)
        for _ in range(4):
            a, b = rng.sample(engines, 2)
            p = 1 / (1 + math.exp(VOTE_SCALE * (STRENGTH[b] - STRENGTH[a])))
            roll = rng.random()
            outcome = "both bad" if roll < 0.05 else "tie" if roll < 0.15 else "left" if rng.random() < p else "right"
            store.add_vote(Vote(run_id, f"technical@{a}", f"technical@{b}", outcome, voter="fixture"))
        recorded.reviews.append(run_id)
        recorded.dates[run_id] = day.isoformat()
    return recorded


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    done = record_history(Store(f"sqlite:///{folder / 'history.db'}"))
    print(f"{len(done.translations)} translation runs and {len(done.reviews)} review runs in {folder / 'history.db'}")
