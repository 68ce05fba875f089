"""Honest judging: strict parsing, GEMBA-MQM scoring, rotated positions, uncertainty, non-translations caught."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
from collections import Counter

import pytest

from parallax.config import Config, load_config
from parallax.export import to_csv, to_json
from parallax.reducers import reduce
from parallax.results import BranchResult, Finding
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_translate
from parallax.stats import difference, estimate
from parallax.translate.fidelity import non_translation
from parallax.translate.judge import mqm_score, neutral_labels, parse_mqm
from parallax.translate.request import TranslationSettings
from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.fakes.judges import candidates, error, position_biased
from tests.fakes.provider_server import ok

SOURCE = ("The new release makes every report load twice as fast and fixes the export of large tables to "
          "spreadsheets.")
GERMAN = ("Die neue Version lädt jeden Bericht doppelt so schnell und behebt den Export großer Tabellen in "
          "Tabellenkalkulationen.")
FRENCH = ("La nouvelle version charge chaque rapport deux fois plus vite et corrige l'exportation des grands "
          "tableaux vers les tableurs.")
THREE = ["openai:a", "openai:b", "openai:c"]


@pytest.fixture
def jconfig(fake) -> Config:  # type: ignore[no-untyped-def]
    return load_config(env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url,
                            "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": fake.anthropic_url})


def run(config: Config, engines: list[str], samples: int = 1, protocol: str = "compare",
        run_id: str | None = None) -> RunOutcome:
    settings = TranslationSettings("en", "de", judge="openai:judge", judge_samples=samples, judge_protocol=protocol)
    plan = plan_translate(SOURCE, config, settings, engines)
    if run_id:
        plan = plan.__class__(**{**plan.__dict__, "run_id": run_id})
    return asyncio.run(execute(plan))


def translations(fake, texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for model, text in texts.items():
        fake.enqueue(model, ok(text))


def reply(entries: dict[str, list[dict[str, str]]] | list[dict[str, object]]) -> str:
    items = entries if isinstance(entries, list) else [{"label": k, "errors": v} for k, v in entries.items()]
    return json.dumps({"translations": items})


# --- strict parsing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("entries,message", [
    ([{"label": "A", "errors": []}, {"label": "A", "errors": [error("x", "critical")] * 3}],
     "label A appears more than once"),
    ([{"label": "A", "errors": "none"}], "'errors' for A must be a list of error objects, got str"),
    ([{"label": "A", "errors": ["bad grammar"]}], "each error for A must be an object"),
    ([{"label": "A", "errors": [error("x", "blocker")]}], "severity 'blocker' is not one of critical, major, minor"),
    ([{"label": "A", "errors": [error("x", "minor", "grammar")]}], "category 'grammar' is not a GEMBA-MQM category"),
    ([{"label": "A", "errors": [{"span": 3, "category": "style", "severity": "minor", "note": ""}]}],
     "the 'span' of an error for A must be text, got int"),
])
def test_judge_replies_that_need_guessing_are_refused(entries, message):
    with pytest.raises(ValueError, match=message):
        parse_mqm(reply(entries), {"A": "x y"})


def test_a_refused_judgement_is_asked_again_once_then_shown_as_an_error(fake, jconfig):
    translations(fake, {"a": GERMAN, "b": GERMAN})
    fake.enqueue("judge", ok(reply([{"label": "A", "errors": "none"}, {"label": "B", "errors": []}])),
                 ok(reply({"A": [], "B": [error("Version", "minor", "fluency/grammar")]})))
    outcome = run(jconfig, ["openai:a", "openai:b"])
    assert fake.calls("judge") == 2  # re-asked with the reason, and the second answer read
    second = fake.requests[-1]["body"]["messages"][-1]["content"]
    assert "'errors' for A must be a list of error objects, got str" in second
    assert sorted(r.judge_score for r in outcome.ordered()) == [96.0, 100.0]

    translations(fake, {"a": GERMAN, "b": GERMAN})
    fake.enqueue("judge", ok(reply({"A": [error("x", "blocker")], "B": []})), ok(reply({"A": []})))
    outcome = run(jconfig, ["openai:a", "openai:b"])
    for r in outcome.ordered():
        assert r.status == "ok" and r.judge_score is None and r.score is None
        assert "no judgement" in (r.judge_error or "") and "no entry for label B" in (r.judge_error or "")


def test_spans_not_in_the_translation_are_kept_and_marked():
    found = parse_mqm(reply({"A": [error("Bericht", "minor"), error("Katze", "major")]}), {"A": GERMAN})
    assert [(f.quote, f.located) for f in found["A"]] == [("Bericht", True), ("Katze", False)]


# --- GEMBA-MQM scoring ----------------------------------------------------------------------------------------


def test_gemba_mqm_scoring_counts_five_errors_most_severe_first_capped_at_25():
    def f(severity: str, category: str = "accuracy") -> Finding:
        return Finding(severity, "x", "", category)

    assert mqm_score([f("minor")] * 3) == 100 - 4 * 3
    assert mqm_score([f("major"), f("minor")]) == 100 - 4 * 6
    assert mqm_score([f("minor")] * 7) == 100 - 4 * 5  # only five errors count
    assert mqm_score([f("major")] * 4 + [f("minor")] * 2) == 100 - 4 * 21  # four majors and one minor
    assert mqm_score([f("major")] * 6) == 0  # 30 capped at 25
    assert mqm_score([f("critical")]) == 0
    found = parse_mqm(reply({"A": [error("x", "minor", "non-translation")]}), {"A": "x"})
    assert found["A"][0].severity == "critical" and mqm_score(found["A"]) == 0


def test_the_judge_prompt_is_gemba_mqm():
    from parallax.translate.judge import judge_request

    request = judge_request(SOURCE, TranslationSettings("en", "de"), [("A", GERMAN)])
    assert "non-translation" in request.system and "Critical errors inhibit comprehension" in request.system
    roles = [m.role for m in request.messages]
    assert roles == ["user", "assistant"] * 3 + ["user"]  # GEMBA-MQM's three few-shot examples first
    assert "involvement" in request.messages[1].content and "accuracy/mistranslation" in request.messages[1].content


# --- rotated positions and the position effect ------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(3, 6), (3, 5), (4, 4), (2, 3)])
def test_every_candidate_sits_in_every_position_as_evenly_as_k_allows(n, k):
    ids = [f"e{i}" for i in range(n)]
    seen = Counter((b, label) for s in range(k) for label, b in neutral_labels(ids, s, "seed"))
    for b in ids:
        counts = [seen[(b, chr(65 + p))] for p in range(n)]
        assert max(counts) - min(counts) <= 1 and sum(counts) == k


def test_a_position_biased_judge_names_no_winner_among_equal_translations(fake, jconfig):
    """Three identical translations, a judge that favours position A by 5 GEMBA points, k = 5 samples."""
    fake.answer = position_biased("judge", random.Random(7))
    runs, confident = 30, 0
    effects = []
    for i in range(runs):
        outcome = run(jconfig, THREE, samples=5, run_id=f"bias{i}")
        confident += outcome.aggregate.confident is True
        assert outcome.aggregate.confident is False  # the interval of the lead includes 0: no clear winner
        effects.append(outcome.assessment.position_effect)
    assert confident == 0
    assert all(e["A"] > 10 and e["B"] < 0 and e["C"] < 0 for e in effects)  # measured and reported
    data = json.loads(to_json(outcome))
    assert data["best_confident"] is False and data["position_effect"]["A"] > 10
    assert data["aggregate"]["verdict"].startswith("no clear winner")


def test_a_real_difference_is_named_with_confidence(fake, jconfig):
    """The same biased judge, but one translation has a real major error in every sample: it loses clearly."""
    bias = position_biased("judge", random.Random(3))

    def answer(model, body):  # type: ignore[no-untyped-def]
        if model != "judge":
            return None
        data = json.loads(bias(model, body).text)
        for entry, (_label, text) in zip(data["translations"], candidates(body), strict=True):
            if "Tabellen" not in text:
                entry["errors"] += [error("Export", "major"), error("Bericht", "major")]
        return ok(json.dumps(data))

    fake.answer = answer
    translations(fake, {"a": GERMAN, "b": GERMAN.replace("Tabellen", "Listen"),
                        "c": GERMAN.replace("Tabellen", "Tische")})
    outcome = run(jconfig, THREE, samples=5)
    agg = outcome.aggregate
    assert (agg.best, agg.confident) == ("openai:a", True) and agg.lead_low > 0
    assert agg.verdict().startswith("openai:a is best: its lead's 95% interval")


# --- errors from every sample ---------------------------------------------------------------------------------


def test_issues_come_from_every_sample_with_how_many_found_each(fake, jconfig):
    translations(fake, {"a": GERMAN})
    fake.enqueue("judge", ok(reply({"A": [error("Bericht", "minor")]})),
                 ok(reply({"A": [error("Bericht", "minor"), error("Export", "major")]})),
                 ok(reply({"A": [error("Bericht", "minor")]})))
    (r,) = run(jconfig, ["openai:a"], samples=3).ordered()
    assert [(f.quote, f.found_by) for f in r.issues] == [("Bericht", 3), ("Export", 1)]
    # The three samples run at once and the fake answers them in arrival order: which sample got which reply varies.
    assert sorted(r.samples) == [76.0, 96.0, 96.0] and r.judge_score == round((96 + 76 + 96) / 3, 2)
    est = r.estimate
    assert est is not None and est.n == 3 and est.sd == round(11.547, 2) and est.low == 76.0 and est.high == 96.0


def test_the_single_protocol_judges_one_translation_per_prompt(fake, jconfig):
    translations(fake, {"a": GERMAN, "b": GERMAN})
    fake.answer = position_biased("judge", random.Random(1))
    outcome = run(jconfig, ["openai:a", "openai:b"], samples=2, protocol="single")
    judge_prompts = [r["body"]["messages"][-1]["content"] for r in fake.requests if r["model"] == "judge"]
    assert len(judge_prompts) == 4  # k × n
    assert all(p.count("<translation ") == 1 and '<translation label="A">' in p for p in judge_prompts)
    assert all(len(r.samples) == 2 for r in outcome.ordered())
    assert outcome.assessment.position_effect == {}


# --- uncertainty ------------------------------------------------------------------------------------------------


def test_estimates_and_paired_leads():
    est = estimate([96, 100, 92, 96, 100])
    assert (est.n, est.mean, est.sd) == (5, 96.8, 3.35) and est.low < 96.8 < est.high
    assert est.describe() == f"96.8 (sd 3.35, 95% CI {est.low:g} to {est.high:g}, 5 samples)"
    assert estimate([90]).describe() == "90 (1 sample)" and estimate([90, 80]).interval is None
    tie = difference([100, 80, 100, 80, 90], [80, 100, 80, 100, 90], paired=True)
    assert tie.mean == 0 and tie.excludes_zero() is False
    clear = difference([100, 96, 100, 96, 100], [80, 76, 80, 80, 76], paired=True)
    assert clear.excludes_zero() is True and clear.low > 15


def test_best_is_tested_against_noise():
    def r(i: int, samples: list[float]) -> BranchResult:
        return BranchResult(f"e{i}", i, f"e{i}", "translation", score=sum(samples) / len(samples),
                            judge_score=sum(samples) / len(samples), samples=samples)

    close = reduce([r(0, [96, 92, 100]), r(1, [92, 96, 96])], "best")
    assert close.best == "e0" and close.confident is False and close.verdict().startswith("no clear winner")
    clear = reduce([r(0, [100, 96, 100]), r(1, [80, 76, 80])], "best")
    assert clear.confident is True and clear.verdict().startswith("e0 is best")
    once = reduce([r(0, [100]), r(1, [96])], "best")
    assert once.confident is None and "untested against noise" in once.verdict()


# --- non-translations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,flag", [
    (SOURCE, "source copy"),
    (SOURCE.replace("twice", "two times"), "source copy"),
    (FRENCH, "wrong language (fr)"),
    ("   ", "empty"),
    (GERMAN, None),
    ("Der Hund läuft.", None),  # too short to tell a language
])
def test_non_translations(text, flag):
    assert non_translation(SOURCE, text, "de") == flag


def test_copies_of_the_source_never_win(fake, jconfig):
    """Two of three engines copy the English source; the judge (fooled) likes the copies best."""
    translations(fake, {"a": SOURCE, "b": GERMAN, "c": SOURCE})

    def answer(model, body):  # type: ignore[no-untyped-def]
        if model != "judge":
            return None
        return ok(reply({label: [] if text == SOURCE else [error("Bericht", "minor")]
                         for label, text in candidates(body)}))

    fake.answer = answer
    outcome = run(jconfig, THREE, samples=1)
    a, b, c = outcome.ordered()
    assert (a.non_translation, b.non_translation, c.non_translation) == ("source copy", None, "source copy")
    assert outcome.aggregate.best == "openai:b"
    assert "not candidates: openai:a (source copy), openai:c (source copy)" in outcome.aggregate.formula
    rows = list(csv.DictReader(io.StringIO(to_csv(outcome))))
    assert [row["non_translation"] for row in rows] == ["source copy", "", "source copy"]
    assert json.loads(to_json(outcome))["branches"][0]["non_translation"] == "source copy"


def test_pseudo_localisation_is_flagged_and_never_best(jconfig):
    settings = TranslationSettings("en", "de")
    outcome = asyncio.run(execute(plan_translate(SOURCE, jconfig, settings, ["offline:pseudo"])))
    (r,) = outcome.ordered()
    assert r.ok and r.non_translation == "pseudo-localisation"
    assert outcome.aggregate.best is None and outcome.aggregate.counts("translate") == "1 of 1 succeeded"
