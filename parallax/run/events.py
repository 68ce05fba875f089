"""What a branch tells while it runs: started, queued, retrying, text, restarted, finished (the page's cards,
the CLI's progress lines and the history all read these)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from parallax.results import BranchResult

if TYPE_CHECKING:
    from parallax.translate.judge import JudgeSample


@dataclass(frozen=True)
class BranchStarted:
    branch_id: str
    at_s: float


@dataclass(frozen=True)
class BranchDelta:
    branch_id: str
    text: str


@dataclass(frozen=True)
class BranchRestarted:
    """The branch is asking again (its reply did not parse): what was shown so far is replaced."""

    branch_id: str
    reason: str


@dataclass(frozen=True)
class BranchQueued:
    """The branch waits for a free slot on an engine limited to `limit` calls at once."""

    branch_id: str
    engine: str
    limit: int


@dataclass(frozen=True)
class BranchRetrying:
    """The SDK is sending the same request again (rate limit, server error): the branch waits for the server."""

    branch_id: str
    retry: int


@dataclass(frozen=True)
class BranchFinished:
    result: BranchResult


@dataclass(frozen=True)
class ChunkFinished:
    """One chunk of a long document's branch is done (the branch finishes when all its chunks have)."""

    branch_id: str
    chunk: int
    of: int


BranchEvent = (BranchStarted | BranchQueued | BranchRetrying | BranchDelta | BranchRestarted | BranchFinished
               | ChunkFinished)
Emit = Callable[[BranchEvent], None]


@dataclass(frozen=True)
class Assessed:
    """A translation run's translations with their quality filled in, and what the comparison found (the run's
    last event before it ends; made by parallax.translate.assess)."""

    results: list[BranchResult]
    matrix: dict[str, dict[str, float]] = field(default_factory=dict)  # engine → engine → chrF
    judge_samples: list[JudgeSample] = field(default_factory=list)
    # With the side-by-side protocol: position label → mean score there minus the candidate's mean.
    position_effect: dict[str, float] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)  # the source cut into the segments every candidate is scored on
