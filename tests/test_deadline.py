"""`--timeout` is one wall-clock deadline for the whole branch: the engines of a fallback chain, their retries and
re-asks, and a two-step perspective's draft and check share it. Timed with simulated engines; the bounds are on
the measured wall time of the run (never a sleep used to wait for something)."""

from __future__ import annotations

import asyncio
import io
import re
import time

from parallax import cli
from parallax.config import load_config
from parallax.perspectives import Perspective
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review
from tests.test_cli import Stdin

TEXT = "Version 2.3 cuts start-up time from 4.1 s to 1.2 s."
SLOW = "sim:slow?latency=3"  # would answer after 3 s: always past the deadlines below
FAST = "sim:fast?latency=0.9&tokens=2&rate=1000"  # answers after 0.9 s


def timed_run(engine: str, timeout_s: float, perspective: str = "technical") -> tuple[RunOutcome, float]:
    """The run and its wall time in seconds, as the run measured it (what the CLI prints as "wall time")."""
    config = load_config(env={})
    config.perspectives["careful"] = Perspective("careful", "checked twice", "- Check twice.", two_step=True)
    plan = plan_review(TEXT, config, [perspective], [engine], timeout_s=timeout_s)
    started = time.monotonic()
    outcome = asyncio.run(execute(plan))
    assert outcome.wall_ms is not None and outcome.wall_ms / 1000 <= time.monotonic() - started
    return outcome, outcome.wall_ms / 1000


def test_a_chain_whose_first_engine_uses_the_whole_deadline_ends_at_the_deadline():
    """Each engine used to get its own full deadline: 1.5 s for the first, then 0.9 s more for the second."""
    outcome, wall = timed_run(f"{SLOW}|{FAST}", 1.5)
    (r,) = outcome.ordered()
    assert r.status == "timeout"
    assert r.error == f"no answer within the 1.5 s deadline (1 engine tried; no time left for {FAST})"
    assert r.fallbacks[0]["error"] == "Simulated: no complete answer within the 1.5 s deadline"
    assert 1.4 < wall < 2.1, wall  # before: 1.5 s + 0.9 s
    assert r.latency_ms is not None and r.latency_ms < 1700


def test_the_next_engine_gets_what_is_left_of_the_deadline():
    """The first engine fails after 0.6 s; the second (0.9 s) has 0.4 s left of a 1 s deadline."""
    outcome, wall = timed_run(f"sim:broken?latency=0.6&fail=error|{FAST}", 1.0)
    (r,) = outcome.ordered()
    assert (r.status, r.error) == ("timeout", "no answer within the 1 s deadline (2 engines tried)")
    assert r.fallbacks[0]["engine"] == "sim:broken?latency=0.6&fail=error"
    assert wall < 1.4, wall  # before: 0.6 s + 0.9 s = 1.5 s, and the second engine answered


def test_a_chain_that_fits_in_the_deadline_still_answers():
    outcome, wall = timed_run(f"sim:broken?latency=0.2&fail=error|{FAST}", 2.0)
    (r,) = outcome.ordered()
    assert (r.status, r.answered_by, r.error) == ("ok", FAST, None)
    assert wall < 2.0


def test_a_two_step_perspective_shares_one_deadline_between_draft_and_check():
    """Draft 0.9 s, check 0.9 s: each fits a 1.2 s deadline alone, the two do not."""
    outcome, wall = timed_run(FAST, 1.2, perspective="careful")
    (r,) = outcome.ordered()
    assert r.status == "timeout" and "1.2 s deadline" in (r.error or "")
    assert [s["status"] for s in r.steps] == ["ok", "timeout"]
    assert wall < 1.6, wall  # before: 1.8 s and the branch succeeded


def test_the_command_says_the_deadline_and_documents_it():
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["review", "-", "-p", "technical", "-e", f"{SLOW}|{FAST}", "--timeout", "1"],
                    stdin=Stdin(TEXT.encode()), out=out, err=err)
    assert code == 1
    printed = out.getvalue()
    assert f"no answer within the 1 s deadline (1 engine tried; no time left for {FAST})" in printed
    wall = float(re.search(r"wall time: ([\d.]+) s", printed).group(1))  # type: ignore[union-attr]
    assert wall < 1.5, wall  # before: 1 s + 0.9 s
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["review"].format_help()  # type: ignore[union-attr]
    assert "wall-clock deadline of a whole branch" in " ".join(help_text.split())
