"""Blind votes: judge–human agreement and Cohen's kappa on a hand-computed example, the pairs a vote offers, a
segment pick as pairwise votes, names masked; votes stored, listed and exported through `parallax history` on
SQLite and PostgreSQL, and every wrong vote refused with exit 2 and no traceback."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from parallax import agreement, blind, cli
from parallax.config import load_config
from parallax.results import BranchResult
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_translate
from parallax.storage import Store
from parallax.storage.history import record
from parallax.translate.request import TranslationSettings
from parallax.votes import Vote

JUDGE = "openai:gpt-4.1-mini"
# Ten segment votes, left = x and right = y, and the class the judge's segment scores give each pair.
HUMAN = ["left", "left", "left", "right", "right", "tie", "tie", "left", "right", "both bad"]
JUDGED = ["left", "left", "right", "right", "right", "tie", "left", "left", "left", "tie"]
SCORES = {"left": (90.0, 70.0), "right": (60.0, 80.0), "tie": (75.0, 75.0)}


def translation_run(human: list[str], judged: list[str]) -> tuple[SimpleNamespace, list[Vote]]:
    x, y = (BranchResult(b, i, f"sim:{b}", "translation") for i, b in enumerate("xy"))
    x.segment_scores = [SCORES[j][0] for j in judged] + [None]  # the last segment: not judged
    y.segment_scores = [SCORES[j][1] for j in judged] + [50.0]
    x.judge_score, y.judge_score = 80.0, 80.0
    run = SimpleNamespace(mode="translate", settings={"translation": {"judge": JUDGE}}, results={"x": x, "y": y})
    votes = [Vote("r", "x", "y", h, "me", n) for n, h in enumerate(human)]
    return run, votes


def test_agreement_and_kappa_on_a_hand_computed_example():
    run, votes = translation_run(HUMAN, JUDGED)
    votes += [Vote("r", "x", "y", "left", "me", 10),  # the judge has no score for x there: left out, counted
              Vote("r", "y", "x", "tie", "me")]  # whole outputs: both judged 80, a judge tie — agrees with a tie
    (found,) = agreement.by_judge([(run, votes)])
    # Agreed on votes 1, 2, 4, 5, 6, 8, 10 ("both bad" is a tie, and the judge tied) and the whole-output tie:
    # 8 of 11.
    assert (found.judge, found.n, found.agreed, found.undecided, found.human_ties) == (JUDGE, 11, 8, 1, 4)
    # Human classes: left 4, right 3, tie 4; the judge's: left 5, right 3, tie 3.
    # p_e = (4·5 + 3·3 + 4·3) / 11² = 41/121 = 0.338843; p_o = 8/11 = 0.727273;
    # kappa = (0.727273 − 0.338843) / (1 − 0.338843) = 0.388430 / 0.661157 = 0.5875.
    assert found.chance == pytest.approx(41 / 121)
    assert found.kappa == pytest.approx(0.5875, abs=1e-4)
    # Wilson 95% for 8 of 11: centre (8/11 + 1.96²/22) / (1 + 1.96²/11) = 0.6684, half-width 0.2341.
    assert (found.low, found.high) == (pytest.approx(0.4344, abs=1e-4), pytest.approx(0.9025, abs=1e-4))
    assert found.kappa_low is not None and found.kappa_low < found.kappa < found.kappa_high <= 1
    assert not found.below_chance and found.warning() is None
    assert found.sentence() == (
        f"The judge ({JUDGE}) agreed with your votes on 8 of 11 (73%, 95% CI 43–90%), Cohen's κ 0.59 "
        f"(95% CI {found.kappa_low:.2f} to {found.kappa_high:.2f}); chance agreement 34%; 1 vote(s) it did not "
        "decide left out.")


def test_kappa_by_hand_on_ten_votes():
    pairs = [(h if h != "both bad" else "tie", j) for h, j in zip(HUMAN, JUDGED, strict=True)]
    # 7 of 10 agree; human left 4, right 3, tie 3; judge left 5, right 3, tie 2:
    # p_e = (20 + 9 + 6) / 100 = 0.35, kappa = (0.70 − 0.35) / 0.65 = 0.538462. Wilson 7/10: 0.3968–0.8922.
    assert agreement.chance_agreement(pairs) == pytest.approx(0.35)
    assert agreement.cohen_kappa(pairs) == pytest.approx(0.538462, abs=1e-6)
    assert agreement.wilson(7, 10) == (pytest.approx(0.3968, abs=1e-4), pytest.approx(0.8922, abs=1e-4))
    assert agreement.cohen_kappa([("left", "left")] * 3) is None  # one class only: undefined, not 0 or 1


def test_a_judge_that_always_disagrees_is_flagged_below_chance():
    human = ["left", "right"] * 6
    judged = ["right", "left"] * 6
    run, votes = translation_run(human, judged)
    (found,) = agreement.by_judge([(run, votes)])
    # 0 of 12; chance: human left 6, right 6; judge right 6, left 6 → p_e = (36 + 36) / 144 = 0.5 > Wilson's 0.2425.
    assert (found.agreed, found.n, found.chance) == (0, 12, 0.5)
    assert found.kappa == pytest.approx(-1.0) and found.high == pytest.approx(0.2425, abs=1e-4)
    assert found.below_chance
    assert found.warning().startswith(f"The judge ({JUDGE}) disagrees with these votes more often than chance would "
                                      "explain: the agreement's 95% interval (0–24%) lies below the 50%")


def test_reviews_compare_their_own_scores_and_a_translation_without_judge_adds_nothing():
    a = BranchResult("legal@e1", 0, "e1", "legal", score=7.0)
    b = BranchResult("legal@e2", 1, "e2", "legal", score=5.0)
    review = SimpleNamespace(mode="review", settings={}, results={a.branch_id: a, b.branch_id: b})
    votes = [Vote("r", a.branch_id, b.branch_id, "left"), Vote("r", b.branch_id, a.branch_id, "left")]
    (found,) = agreement.by_judge([(review, votes)])
    assert (found.judge, found.n, found.agreed) == (agreement.REVIEW_SCORES, 2, 1)
    assert found.sentence("the votes").startswith("The reviews' own scores agreed with the votes on 1 of 2 (50%")
    run, translated = translation_run(HUMAN, JUDGED)
    run.settings = {"translation": {"judge": None}}
    assert agreement.by_judge([(run, translated)]) == []


def outputs(*specs: tuple[str, str, str]) -> SimpleNamespace:
    results = [BranchResult(b, i, e, p, text="text", summary="s") for i, (b, e, p) in enumerate(specs)]
    return SimpleNamespace(mode="review", settings={}, ordered=lambda: results)


def test_a_review_pair_is_two_engines_on_one_perspective_in_a_random_order():
    run = outputs(("legal@a", "a", "legal"), ("legal@b", "b", "legal"), ("tech@a", "a", "tech"))
    assert blind.pairs(run) == [("legal@a", "legal@b")]
    orders = {blind.pick_pair(run, random.Random(seed)) for seed in range(20)}
    assert orders == {("legal@a", "legal@b"), ("legal@b", "legal@a")}
    single = outputs(("legal@a", "a", "legal"), ("tech@a", "a", "tech"))  # one engine: no engines to compare
    assert blind.pairs(single) == [] and blind.pick_pair(single, random.Random(0)) is None
    three = outputs(("x", "a", "t"), ("y", "b", "t"), ("z", "c", "t"))
    # "Another pair" never shows the same pair again, and pairs already voted on come last.
    assert all(set(blind.pick_pair(three, random.Random(s), avoid=("x", "y"))) != {"x", "y"} for s in range(20))
    assert set(blind.pick_pair(three, random.Random(1), voted=[("x", "y"), ("y", "z")])) == {"x", "z"}


def test_a_translation_that_is_none_is_never_put_to_a_vote():
    run = outputs(("pseudo", "offline:pseudo", "translation"), ("a", "sim:a", "translation"),
                  ("b", "sim:b", "translation"))
    run.mode = "translate"
    run.ordered()[0].non_translation = "pseudo-localisation"
    assert blind.pairs(run) == [("a", "b")]


def test_a_segment_pick_beats_every_other_candidate_on_that_segment():
    votes = blind.segment_votes("r", 2, "b", ["a", "b", "c"], "me", random.Random(3))
    assert [(v.winner, v.segment) for v in votes] == [("b", 2), ("b", 2)]
    assert {frozenset((v.left, v.right)) for v in votes} == {frozenset("ab"), frozenset("bc")}
    sides = [v.outcome for s in range(20) for v in blind.segment_votes("r", 0, "b", "abc", "me", random.Random(s))]
    assert {"left", "right"} == set(sides)  # the picked one is not always stored on the left
    ties = blind.segment_votes("r", 0, blind.NO_DIFFERENCE, ["a", "b", "c"], "me", random.Random(0))
    assert [v.outcome for v in ties] == ["tie"] * 3


def test_engine_names_in_an_output_are_masked():
    text = "[simulated] quick on legal: Quick fix. Keyword checks (offline) — no AI. quickly"
    assert blind.mask_names(text, ["sim:quick?latency=0.3", "quick", "Keyword checks (offline)"]) == (
        "[simulated] ▒▒▒ on legal: ▒▒▒ fix. ▒▒▒ — no AI. quickly")


def translated(db_url: str) -> str:
    store = Store(db_url)
    plan = plan_translate("The dog runs fast. The cat sleeps all day. Birds sing.", load_config(env={}),
                          TranslationSettings("en", "de", judge="sim:judge?latency=0&tokens=5&rate=500"),
                          ["offline:pseudo", "sim:a?latency=0&tokens=5&rate=500", "sim:b?latency=0&tokens=5&rate=500"])
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store)
    asyncio.run(execute(plan, outcome=outcome))
    return plan.run_id


def parallax(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(args), out=out, err=err), out.getvalue(), err.getvalue()


A, B = "sim:a?latency=0&tokens=5&rate=500", "sim:b?latency=0&tokens=5&rate=500"


def test_votes_are_stored_listed_and_exported_from_the_command_line(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_id = translated(db_url)
    code, out, _ = parallax("history", "vote", run_id, "--a", A, "--b", B, "--outcome", "a")
    assert code == 0 and out.startswith("recorded vote ") and out.endswith(f"better: {A}\n")
    assert parallax("history", "vote", run_id, "--a", A, "--b", B, "--outcome", "both-bad", "--segment", "2",
                    "--voter", "lead")[0] == 0
    assert parallax("history", "vote", run_id, "--a", A, "--b", "offline:pseudo", "--outcome", "tie")[0] == 0
    votes = Store(db_url).votes(run_id)
    assert [(v.left, v.right, v.outcome, v.segment, v.voter) for v in votes] == [
        (A, B, "left", None, "cli"), (A, B, "both bad", 1, "lead"), (A, "offline:pseudo", "tie", None, "cli")]
    code, out, _ = parallax("history", "votes", run_id)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["created_at", "voter", "segment", "A", "B", "outcome", "better"]
    assert lines[1].split()[1:] == ["cli", "-", A, B, "A", A]
    assert lines[2].split()[1:] == ["lead", "2", A, B, "both", "bad", "-"]
    assert "The judge (sim:judge?latency=0&tokens=5&rate=500) agreed with the votes on " in out

    assert parallax("history", "export", run_id, "--json", "r.json", "--csv", "r.csv", "--xlsx", "r.xlsx")[0] == 0
    exported = json.loads(Path("r.json").read_text())["votes"]
    assert [(v["left_engine"], v["outcome"], v["segment"], v["winner_engine"]) for v in exported] == [
        (A, "left", None, A), (A, "both bad", 2, None), (A, "tie", None, None)]
    assert [r["voter"] for r in csv.DictReader(io.StringIO(Path("r.votes.csv").read_text()))] == ["cli", "lead", "cli"]
    assert len(pd.read_excel("r.xlsx", sheet_name="votes")) == 3


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "--a", A, "--b", B, "--outcome", "a"], "no run 'nope' in the history"),
    (["RUN", "--a", "sim:zzz", "--b", B, "--outcome", "a"], "has no branch 'sim:zzz'; its branches: offline:pseudo"),
    (["RUN", "--a", A, "--b", B, "--outcome", "maybe"], "argument --outcome: invalid choice: 'maybe'"),
    (["RUN", "--a", A, "--b", A, "--outcome", "a"], "--a and --b name the same output"),
    (["RUN", "--a", A, "--b", B, "--outcome", "a", "--segment", "9"], "--segment 9: the run has segments 1 to 3"),
    (["RUN", "--a", A, "--b", "offline:pseudo", "--outcome", "b", "--segment", "1"],
     "branch offline:pseudo is not aligned to the segments"),
])
def test_a_wrong_vote_exits_2_with_a_message_and_stores_nothing(args, message, db_url):
    run_id = translated(db_url)
    code, out, err = parallax("history", "vote", *[run_id if a == "RUN" else a for a in args])
    assert code == 2 and message in err and "Traceback" not in err and out == ""
    assert Store(db_url).votes() == []
    assert parallax("history", "votes", "nope")[2] == "parallax: no run 'nope' in the history\n"
