"""`parallax history vote` and `parallax history votes`: record a human verdict on two outputs of a stored run (from
a script, say), and list a run's votes with the engines revealed and the judge's agreement with them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

from parallax.cli.common import EXIT_BAD_INPUT, EXIT_OK, table_lines

if TYPE_CHECKING:
    from parallax.storage import RunRecord, Store

# The command line's words for a vote's outcome (A is the left branch, B the right one).
OUTCOME_WORDS = {"a": "left", "b": "right", "tie": "tie", "both-bad": "both bad"}


class VoteError(Exception):
    """A vote that cannot be recorded: said on standard error, exit 2, nothing stored."""


def add_parsers(actions: Any) -> None:
    """The `vote` and `votes` actions of `parallax history`."""
    vote = actions.add_parser("vote", help="record a human vote on two outputs of a stored run",
                              description="Record which of two outputs of a stored run is better. A and B are "
                                          "branch ids as `parallax history show RUN_ID --json` lists them (or an "
                                          "engine id, when it names one branch of the run).")
    vote.add_argument("run_id", metavar="RUN_ID")
    vote.add_argument("--a", required=True, metavar="BRANCH", help="one output: a branch id (or its engine id)")
    vote.add_argument("--b", required=True, metavar="BRANCH", help="the other output")
    vote.add_argument("--outcome", required=True, choices=list(OUTCOME_WORDS),
                      help="a: A is better, b: B is better, tie, both-bad")
    vote.add_argument("--segment", type=int, metavar="N",
                      help="a translation's source segment, numbered from 1 as in the segments CSV (default: the "
                           "whole outputs)")
    vote.add_argument("--voter", default="cli", metavar="NAME", help="who voted (default: cli)")
    listing = actions.add_parser("votes", help="a run's votes, engines revealed, and the judge's agreement")
    listing.add_argument("run_id", metavar="RUN_ID")


def resolve_branch(record: RunRecord, given: str) -> str:
    """A branch id of the run: as given, or the one branch an engine id names."""
    if given in record.results:
        return given
    matching = [b for b, r in record.results.items() if r.engine == given]
    if len(matching) == 1:
        return matching[0]
    known = ", ".join(record.results) or "none"
    if matching:
        raise VoteError(f"engine {given!r} answers {len(matching)} branches of run {record.run_id}; name one of: "
                        f"{', '.join(matching)}")
    raise VoteError(f"run {record.run_id} has no branch {given!r}; its branches: {known}")


def check_vote(record: RunRecord, left: str, right: str, segment: int | None) -> None:
    if left == right:
        raise VoteError("--a and --b name the same output: a vote compares two")
    for branch in (left, right):
        result = record.results[branch]
        if result.status != "ok" or not result.text.strip():
            raise VoteError(f"branch {branch} has no output to vote on (status {result.status})")
    if segment is None:
        return
    if record.mode != "translate" or not record.units:
        raise VoteError(f"run {record.run_id} has no source segments: --segment is for translation runs")
    if not 0 <= segment < len(record.units):
        raise VoteError(f"--segment {segment + 1}: the run has segments 1 to {len(record.units)}")
    for branch in (left, right):
        if not record.results[branch].segments:
            raise VoteError(f"branch {branch} is not aligned to the segments (not a real translation)")


def votes_main(args: argparse.Namespace, store: Store, out: TextIO, err: TextIO) -> int:
    from parallax.storage import StorageError
    from parallax.votes import Vote

    try:
        record = store.load_run(args.run_id)
        if args.action == "votes":
            print(votes_listing(record, store), file=out)
            return EXIT_OK
        left, right = resolve_branch(record, args.a), resolve_branch(record, args.b)
        segment = None if args.segment is None else args.segment - 1
        check_vote(record, left, right, segment)
        stored = store.add_vote(Vote(args.run_id, left, right, OUTCOME_WORDS[args.outcome], args.voter, segment))
    except (StorageError, VoteError) as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    winner = record.results[stored.winner].engine if stored.winner else stored.outcome
    print(f"recorded vote {stored.vote_id} on run {stored.run_id}: "
          f"{'better: ' + winner if stored.winner else winner}", file=out)
    return EXIT_OK


def votes_listing(record: RunRecord, store: Store) -> str:
    """The run's votes as a table (engines revealed), then the judge's agreement with them."""
    from parallax.agreement import by_judge

    votes = store.votes(record.run_id)
    if not votes:
        return f"no votes on run {record.run_id} yet"
    engine = {b: r.engine for b, r in record.results.items()}
    rows = [("created_at", "voter", "segment", "A", "B", "outcome", "better")]
    rows += [(v.created_at[:19], v.voter[:16], "-" if v.segment is None else str(v.segment + 1),
              engine.get(v.left, v.left), engine.get(v.right, v.right),
              {"left": "A", "right": "B"}.get(v.outcome, v.outcome),
              engine.get(v.winner, v.winner) if v.winner else "-") for v in votes]
    lines = table_lines(rows)
    for found in by_judge([(record, votes)]):
        lines += ["", found.sentence("the votes")]
        if warning := found.warning():
            lines.append(f"warning: {warning}")
    return "\n".join(lines)
