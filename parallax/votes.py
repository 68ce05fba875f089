"""Blind human votes: one person's verdict on two outputs of one run (or on one source segment of a translation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# What a voter can say about the pair (left, right), shown to them as A and B in a random order.
OUTCOMES = ("left", "right", "tie", "both bad")


@dataclass(frozen=True)
class Vote:
    run_id: str
    left: str  # branch ids, as stored in the run
    right: str
    outcome: str  # one of OUTCOMES
    voter: str = "cli"  # the browser session (no accounts), or "cli", or what a script names
    segment: int | None = None  # a translation's source segment (from 0); None: the whole output
    created_at: str = ""
    vote_id: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"a vote is one of: {', '.join(OUTCOMES)} (got {self.outcome!r})")
        if self.left == self.right:
            raise ValueError("a vote compares two different outputs")

    @property
    def winner(self) -> str | None:
        """The branch voted better, or None for a tie or both bad."""
        return {"left": self.left, "right": self.right}.get(self.outcome)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
