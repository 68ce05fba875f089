"""Blind votes in the history, kept with their run (deleted with it)."""

from __future__ import annotations

import uuid

from parallax.storage.database import Database, StorageError, clean, now
from parallax.votes import Vote


class Votes(Database):
    """Human verdicts on pairs of a run's outputs."""

    def add_vote(self, vote: Vote) -> Vote:
        """Store a vote on a stored run (StorageError naming the run if there is no such run or branch)."""
        record = self.load_run(vote.run_id)  # type: ignore[attr-defined]
        missing = [b for b in (vote.left, vote.right) if b not in record.results]
        if missing:
            raise StorageError(f"run {vote.run_id} has no output {', '.join(missing)}")
        stored = Vote(vote.run_id, vote.left, vote.right, vote.outcome, clean(vote.voter), vote.segment, now(),
                      uuid.uuid4().hex)
        with self.transaction() as conn:
            conn.execute("INSERT INTO votes (vote_id, run_id, created_at, voter, left_branch, right_branch, "
                                 "outcome, segment) VALUES (:i, :r, :t, :v, :l, :b, :o, :s)",
                         {"i": stored.vote_id, "r": stored.run_id, "t": stored.created_at, "v": stored.voter,
                          "l": stored.left, "b": stored.right, "o": stored.outcome, "s": stored.segment})
        return stored

    def votes(self, run_id: str | None = None) -> list[Vote]:
        """The votes of one run, or of every run, oldest first."""
        query = ("SELECT vote_id, run_id, created_at, voter, left_branch, right_branch, outcome, segment FROM votes"
                 + (" WHERE run_id = :r" if run_id else "") + " ORDER BY created_at, vote_id")
        with self.transaction() as conn:
            rows = conn.records(query, {"r": run_id} if run_id else {})
        return [Vote(row["run_id"], row["left_branch"], row["right_branch"], row["outcome"], row["voter"],
                     row["segment"], row["created_at"], row["vote_id"]) for row in rows]
