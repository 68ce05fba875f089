"""What a blind vote shows and stores, without Streamlit: which outputs can be compared, a random pair in a random
order, each source segment's candidates shuffled, the votes a segment pick stands for, and the engine names masked
in the texts a voter reads."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any, Protocol

from parallax.votes import Vote

MASK = "▒▒▒"
NO_DIFFERENCE = "no difference"


class RunLike(Protocol):
    mode: str
    settings: dict[str, Any]

    def ordered(self) -> list[Any]: ...


def candidates(run: RunLike) -> list[str]:
    """The outputs a vote can compare: the branches that came back with text, in declared order; for a
    translation, not those flagged as no translation (a source copy, a pseudo-localisation, a reply in the wrong
    language), which are no candidates anywhere else either."""
    return [r.branch_id for r in run.ordered() if r.status == "ok" and r.text.strip()
            and not (run.mode == "translate" and r.non_translation)]


def pairs(run: RunLike) -> list[tuple[str, str]]:
    """The pairs worth a vote: two outputs of different engines. A translation: any two candidates. A review: two
    engines on the same perspective (a legal review against a technical one says nothing about either engine, and
    two perspectives of one engine compare no engines)."""
    by_id = {r.branch_id: r for r in run.ordered()}
    found = [(a, b) for a, b in combinations(candidates(run), 2) if by_id[a].engine != by_id[b].engine]
    if run.mode == "translate":
        return found
    return [(a, b) for a, b in found if by_id[a].perspective == by_id[b].perspective]


def pick_pair(run: RunLike, rng: random.Random, voted: Iterable[Iterable[str]] = (),
              avoid: Iterable[str] | None = None) -> tuple[str, str] | None:
    """A random pair in a random order (shown as A, B), preferring pairs not voted on yet and, for "another pair",
    one other than `avoid`. None when the run has no two outputs to compare."""
    every = pairs(run)
    if not every:
        return None
    done = {frozenset(p) for p in voted}
    skip = frozenset(avoid) if avoid is not None else None
    for pool in ([p for p in every if frozenset(p) not in done and frozenset(p) != skip],
                 [p for p in every if frozenset(p) != skip], every):
        if pool:
            pair = list(rng.choice(pool))
            rng.shuffle(pair)
            return pair[0], pair[1]
    return None


def segment_candidates(run: RunLike) -> list[str]:
    """The translations aligned to the source's segments (the real translations: a source copy or a
    pseudo-localisation has no segments), in declared order."""
    return [r.branch_id for r in run.ordered() if r.status == "ok" and r.segments]


def shuffled(items: Sequence[str], seed: str) -> list[str]:
    """The items in an order fixed by the seed (the same on every redraw of the page, different per segment)."""
    order = list(items)
    random.Random(seed).shuffle(order)
    return order


def segment_votes(run_id: str, segment: int, picked: str, others: Sequence[str], voter: str,
                  rng: random.Random) -> list[Vote]:
    """A pick of the best candidate on one source segment, as pairwise votes: the picked one beats each other
    candidate on that segment (k candidates: k − 1 votes). `picked` may be NO_DIFFERENCE: every pair is then a
    tie. Each pair's sides are put in a random order, so that the stored votes do not all read "left" (which would
    skew the class frequencies that Cohen's kappa compares)."""
    if picked == NO_DIFFERENCE:
        return [Vote(run_id, *_sides(a, b, rng), "tie", voter, segment) for a, b in combinations(others, 2)]
    votes = []
    for other in others:
        if other == picked:
            continue
        left, right = _sides(picked, other, rng)
        votes.append(Vote(run_id, left, right, "left" if left == picked else "right", voter, segment))
    return votes


def _sides(a: str, b: str, rng: random.Random) -> tuple[str, str]:
    return (a, b) if rng.random() < 0.5 else (b, a)


def mask_names(text: str, names: Iterable[str]) -> str:
    """The text with every engine id and display name in it (whole words, any case) replaced by ▒▒▒: an output that
    names its own engine ("[simulated] quick on legal", "Keyword checks (offline) — no AI") stays blind."""
    words = sorted({n.strip() for n in names if len(n.strip()) >= 3}, key=len, reverse=True)
    if not words:
        return text
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
    return pattern.sub(MASK, text)


def names_to_hide(run: RunLike, display: Mapping[str, str]) -> list[str]:
    """Every name a voter must not see: each engine id, each part of a fallback chain, their display names, and
    the judge's (display: engine id → display name, for every id and part)."""
    ids = {r.engine for r in run.ordered()} | {r.answered_by for r in run.ordered() if r.answered_by}
    judge = (run.settings.get("translation") or {}).get("judge")
    if judge:
        ids.add(judge)
    parts = {p for e in ids for p in e.split("|")}
    providers = {p.partition(":")[0] for p in parts if ":" in p}
    every = ids | parts
    return sorted(every | providers | {display[e] for e in every if e in display}, key=len, reverse=True)


def output_text(result: Any, mode: str) -> str:
    """What a voter reads of one output: a translation's text; a review's summary, strengths and issues (its
    score never: a vote is on the review, not on its number)."""
    if mode == "translate":
        return str(result.text)
    lines = [result.summary.strip()] if result.summary.strip() else []
    if result.strengths:
        lines += ["", "Strengths:", *(f"- {s}" for s in result.strengths)]
    if result.issues:
        lines += ["", "Issues:"]
        lines += [f"- [{f.severity}] {f.note}" + (f" — “{f.quote}”" if f.quote else "") for f in result.issues]
    return "\n".join(lines) or str(result.text)
