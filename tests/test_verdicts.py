"""Verdicts from evidence (issue 28): segments, paired tests over them, and the cases an evaluation audit found."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random

import pytest

from parallax.cli.common import summary_table
from parallax.config import Config, load_config
from parallax.reducers import reduce
from parallax.results import BranchResult, Finding
from parallax.review.judgement import load_json_reply
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_translate
from parallax.stats import paired_tests
from parallax.translate.judge import mqm_score, neutral_labels, parse_mqm, segment_scores, self_judging
from parallax.translate.request import TranslationSettings
from parallax.translate.segments import segment_candidates
from tests.conftest import OPENAI_KEY
from tests.fakes.judges import candidates, error, segments
from tests.fakes.provider_server import ok
from tests.fakes.texts import GERMAN, SOURCE


@pytest.fixture
def jconfig(fake) -> Config:  # type: ignore[no-untyped-def]
    return load_config(env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url})


def run(config: Config, engines: list[str], source: str = SOURCE, judge: str | None = "openai:judge",
        samples: int = 1, protocol: str = "segments") -> RunOutcome:
    settings = TranslationSettings("en", "de", judge=judge, judge_samples=samples, judge_protocol=protocol)
    return asyncio.run(execute(plan_translate(source, config, settings, engines)))


def branch(name: str, scores: list[float], order: int = 0, **extra) -> BranchResult:  # type: ignore[no-untyped-def]
    mean = sum(scores) / len(scores)
    return BranchResult(name, order, name, "translation", score=mean, judge_score=mean, segment_scores=list(scores),
                        **extra)


# --- the simulation the issue asks for: equal candidates, 200 runs of a 20-segment document ---------------------

def _noise(rng: random.Random) -> int:
    """A segment's GEMBA penalty from a judge that cannot tell equal translations apart: 0-2 minors, sometimes a
    major."""
    return sum(rng.random() < 0.3 for _ in range(2)) + (5 if rng.random() < 0.1 else 0)


def _score(penalty: int) -> float:
    return 100 - 4 * min(25, penalty)


def _judge(kind: str, rng: random.Random, run_id: int) -> tuple[list[float], list[float]]:
    a, b = [], []
    for n in range(20):
        if kind == "position-biased":  # side by side, positions rotated over segments; A is worth a major error
            first = dict(neutral_labels(["a", "b"], n, f"run{run_id}"))["A"]
            pa, pb = _noise(rng), _noise(rng)
            pa, pb = (pa, pb + 5) if first == "a" else (pa + 5, pb)
        elif kind == "noisy":
            pa, pb = _noise(rng), _noise(rng)
        else:  # deterministic: the same text always gets the same errors; equal translations worded differently
            def penalty(who: str, segment: int = n) -> int:
                return hashlib.sha256(f"{run_id}/{segment}/{who}".encode()).digest()[0] % 4
            pa, pb = penalty("a"), penalty("b")
        a.append(_score(pa))
        b.append(_score(pb))
    return a, b


@pytest.mark.parametrize("kind", ["position-biased", "noisy", "deterministic"])
def test_equal_candidates_get_a_false_clear_winner_at_most_5_percent_of_the_time(kind):
    rng = random.Random(2024)
    runs, clear = 200, 0
    for i in range(runs):
        a, b = _judge(kind, rng, i)
        verdict = reduce([branch("a", a), branch("b", b, 1)], "best")
        assert verdict.n_units == 20
        clear += verdict.confident is True
    print(f"\n{kind}: a clear winner in {clear} of {runs} runs of equal translations")
    assert clear / runs <= 0.05


def test_the_95_percent_interval_of_a_lead_covers_the_true_lead_at_least_93_percent_of_the_time():
    rng = random.Random(7)
    runs, covered = 400, 0
    true = 4 * 2 * (0.45 - 0.3)  # b makes minors with probability 0.45 per chance, a with 0.3
    for _ in range(runs):
        a = [_score(sum(rng.random() < 0.3 for _ in range(2)) + (5 if rng.random() < 0.1 else 0)) for _ in range(20)]
        b = [_score(sum(rng.random() < 0.45 for _ in range(2)) + (5 if rng.random() < 0.1 else 0)) for _ in range(20)]
        (test,) = paired_tests({"a": a, "b": b}, "a")
        covered += test.low is not None and test.high is not None and test.low <= true <= test.high
    print(f"\n95% interval of the lead covered the true lead in {covered} of {runs} runs")
    assert covered / runs >= 0.93


def test_a_real_difference_over_segments_is_a_clear_winner_and_says_on_what():
    rng = random.Random(1)
    good = [_score(_noise(rng)) for _ in range(20)]
    bad = [v - 20 if i % 2 else v for i, v in enumerate(good)]  # a major error in every other segment
    verdict = reduce([branch("bad", bad), branch("good", good, 1)], "best")
    assert (verdict.best, verdict.confident, verdict.n_units) == ("good", True, 20)
    assert verdict.headline() == "Best translation: good"
    assert verdict.verdict().startswith("good is best: ahead of every other translation over 20 segments (paired "
                                        "permutation test, Holm-adjusted p ≤")


# --- what the audit saw --------------------------------------------------------------------------------------------

def test_one_segment_judged_the_same_way_five_times_is_too_short_to_tell(fake, jconfig):
    """A judge that always gives one candidate the same minor error, 5 samples: it is consistent, that is all."""
    def answer(model, body):  # type: ignore[no-untyped-def]
        if model != "judge":
            return None
        (label, block), = candidates(body)
        number, text = segments(block)[0]
        return ok(json.dumps({"translations": [{"label": label, "errors": [
            error(text.split()[0], "minor", "fluency/grammar", number)] if "Bericht" in text else []}]}))

    fake.answer = answer
    fake.enqueue("good", ok("Die neue Version lädt jede Übersicht doppelt so schnell."))
    fake.enqueue("meh", ok("Die neue Version lädt jeden Bericht doppelt so schnell."))
    outcome = run(jconfig, ["openai:good", "openai:meh"], source=SOURCE.split(". ")[0] + ".", samples=5)
    agg = outcome.aggregate
    assert (agg.best, agg.confident, agg.n_units) == ("openai:good", None, 1)
    assert agg.headline() == "Too short to tell — openai:good leads"
    assert "1 segment cannot show a difference at 5%" in agg.verdict()
    assert "the judge preferred it in 5 of 5 samples (its consistency with itself" in agg.verdict()
    assert "is best" not in agg.verdict()


def test_errors_count_per_segment_so_nine_minors_score_below_five():
    units = list(range(10))
    nine = [Finding("minor", "x", "", "fluency", segment=n) for n in range(9)]
    five = [Finding("minor", "x", "", "fluency", segment=n) for n in range(5)]
    assert mqm_score(nine) == mqm_score(five) == 80  # the old whole-document score: both capped alike
    score = {name: sum(segment_scores(f, units).values()) / 10 for name, f in (("nine", nine), ("five", five))}
    assert score == {"nine": 96.4, "five": 98.0}


def test_a_markup_only_reply_is_never_the_best_translation(fake, jconfig):
    fake.enqueue("tags", ok("<p></p><br/>"))
    fake.enqueue("real", ok(GERMAN))
    outcome = run(jconfig, ["openai:tags", "openai:real"], judge=None)
    tags, real = outcome.ordered()
    assert tags.non_translation == "markup only" and real.non_translation is None
    assert outcome.aggregate.best == "openai:real" and "openai:tags (markup only)" in outcome.aggregate.formula


def test_with_no_judge_two_engines_have_no_best_and_the_cli_says_so_consistently(fake, jconfig):
    fake.enqueue("a", ok(GERMAN))
    fake.enqueue("b", ok(GERMAN.replace("Bericht", "Report")))
    outcome = run(jconfig, ["openai:a", "openai:b"], judge=None)
    assert outcome.aggregate.best is None
    text = summary_table(outcome)
    assert "aggregate (best): none — 2 of 2 succeeded" in text
    assert "two translations and no judge: agreement is symmetric" in text
    assert "scored highest" not in text and "best translation" not in text.lower()


def test_copies_agree_with_each_other_but_never_make_the_real_translations_outliers(fake, jconfig):
    for model in ("copy1", "copy2", "copy3"):
        fake.enqueue(model, ok(SOURCE))
    fake.enqueue("de1", ok(GERMAN))
    fake.enqueue("de2", ok(GERMAN.replace("doppelt so schnell", "zweimal so schnell")))
    outcome = run(jconfig, ["openai:copy1", "openai:copy2", "openai:copy3", "openai:de1", "openai:de2"], judge=None)
    flags = {r.engine: (r.non_translation, r.outlier) for r in outcome.ordered()}
    assert flags == {"openai:copy1": ("source copy", False), "openai:copy2": ("source copy", False),
                     "openai:copy3": ("source copy", False), "openai:de1": (None, False),
                     "openai:de2": (None, False)}
    assert set(outcome.assessment.matrix) == {"openai:de1", "openai:de2"}  # agreement among real translations


def test_reducers_never_merge_a_non_translation_into_a_translations_score():
    real = branch("real", [80.0])
    copy = branch("copy", [100.0], 1, non_translation="source copy")
    assert reduce([real, copy], "mean").score == 80 and reduce([real, copy], "max").score == 80


def test_judge_replies_are_read_as_gemba_does():
    assert load_json_reply('{"translations": []}\nI hope this assessment helps.') == {"translations": []}
    reply = json.dumps({"translations": [{"label": "A", "errors": [
        {"segment": 2, "span": "Hund", "category": "grammar", "severity": "major", "note": ""},
        {"segment": 1, "span": "Katze", "category": "accuracy/mistranslation", "severity": "minor", "note": ""}]}]})
    found = parse_mqm(reply, {"A": ["Die Katze schläft.", "Der Hund bellt."]}, [0, 1])["A"]
    # An unknown category is kept with its label and counted by its severity; each error sits in its segment.
    assert [(f.category, f.severity, f.segment) for f in found] == [("grammar", "major", 1),
                                                                  ("accuracy/mistranslation", "minor", 0)]
    assert segment_scores(found, [0, 1]) == {0: 96.0, 1: 80.0}


def test_the_judge_is_asked_at_temperature_0_and_each_translation_alone(fake, jconfig):
    fake.enqueue("a", ok(GERMAN))
    fake.enqueue("b", ok(GERMAN))
    fake.answer = lambda model, body: ok(json.dumps({"translations": [
        {"label": "A", "errors": []}]})) if model == "judge" else None
    outcome = run(jconfig, ["openai:a", "openai:b"])
    calls = [r["body"] for r in fake.requests if r["model"] == "judge"]
    assert len(calls) == 2 and all(c["temperature"] == 0 for c in calls)
    assert all(c["messages"][-1]["content"].count("<translation ") == 1 for c in calls)
    assert all(len(r.segment_scores) == len(outcome.assessment.units) == 10 for r in outcome.ordered())


def test_the_default_judge_is_never_a_candidate_when_another_is_available():
    config = load_config(env={"OPENAI_API_KEY": OPENAI_KEY})
    assert config.default_judge(["openai:gpt-4o-mini"]) == "openai:gpt-4.1-mini"
    assert config.default_judge(["deepl"]) == "openai:gpt-4o-mini"
    assert self_judging("openai:gpt-4o-mini", ["openai:gpt-4o-mini", "deepl"]).startswith(
        "openai:gpt-4o-mini judges its own translation")
    assert self_judging("openai:gpt-4.1-mini", ["openai:gpt-4o-mini"]) is None


def test_a_translation_that_joins_two_sentences_is_scored_on_the_joined_source():
    joined = GERMAN.replace("schnell. Außerdem", "schnell, und außerdem")
    found = segment_candidates(SOURCE, {"a": GERMAN, "b": joined}, "en", "de")
    assert len(found.units) == 9 and found.units[0].endswith("large tables.")
    assert found.texts["b"][0] == "Mit der neuen Version lädt jeder Bericht doppelt so schnell, und außerdem wird " \
        "der Export großer Tabellen behoben."
    assert found.alignment("b")["beads"] == {"2-1": 1, "1-1": 8}
