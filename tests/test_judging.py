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
from parallax.results import Finding
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_translate
from parallax.stats import estimate
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


def run(config: Config, engines: list[str], samples: int = 1, protocol: str = "segments",
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
    ([{"label": "A", "errors": [{"span": 3, "category": "style", "severity": "minor", "note": ""}]}],
     "the 'span' of an error for A must be text, got int"),
])
def test_judge_replies_that_need_guessing_are_refused(entries, message):
    with pytest.raises(ValueError, match=message):
        parse_mqm(reply(entries), {"A": ["x y"]}, [0])


def test_a_refused_judgement_is_asked_again_once_then_shown_as_an_error(fake, jconfig):
    translations(fake, {"a": GERMAN, "b": GERMAN})
    fake.enqueue("judge", ok(reply([{"label": "A", "errors": "none"}, {"label": "B", "errors": []}])),
                 ok(reply({"A": [], "B": [error("Version", "minor", "fluency/grammar")]})))
    outcome = run(jconfig, ["openai:a", "openai:b"], protocol="compare")
    assert fake.calls("judge") == 2  # re-asked with the reason, and the second answer read
    second = fake.requests[-1]["body"]["messages"][-1]["content"]
    assert "'errors' for A must be a list of error objects, got str" in second
    assert sorted(r.judge_score for r in outcome.ordered()) == [96.0, 100.0]

    translations(fake, {"a": GERMAN, "b": GERMAN})
    fake.enqueue("judge", ok(reply({"A": [error("x", "blocker")], "B": []})), ok(reply({"A": []})))
    outcome = run(jconfig, ["openai:a", "openai:b"], protocol="compare")
    for r in outcome.ordered():
        assert r.status == "ok" and r.judge_score is None and r.score is None
        assert "no judgement" in (r.judge_error or "") and "no entry for label B" in (r.judge_error or "")


def test_spans_not_in_the_translation_are_kept_and_marked():
    found = parse_mqm(reply({"A": [error("Bericht", "minor"), error("Katze", "major")]}), {"A": [GERMAN]}, [0])
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
    found = parse_mqm(reply({"A": [error("x", "minor", "non-translation")]}), {"A": ["x"]}, [0])
    assert found["A"][0].severity == "critical" and mqm_score(found["A"]) == 0


def test_the_judge_prompt_is_gemba_mqm():
    from parallax.translate.judge import judge_request

    request = judge_request(SOURCE, TranslationSettings("en", "de"), [SOURCE], [("A", [GERMAN])], [0])
    assert request.temperature == 0  # GEMBA judges at temperature 0
    assert f"[1] {GERMAN}" in request.messages[-1].content  # numbered segments
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
    assert est is not None and est.n == 3 and est.sd == round(11.547, 2) and est.low < 76 and est.high > 96


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


def test_estimates_say_what_they_are_over():
    est = estimate([96, 100, 92, 96, 100])
    assert (est.n, est.mean, est.sd) == (5, 96.8, 3.35) and est.low < 96.8 < est.high
    assert est.describe() == f"96.8 (sd 3.35, 95% CI {est.low:g} to {est.high:g}, 5 samples)"
    assert estimate([90]).describe() == "90 (1 sample)" and estimate([90, 80]).interval is None
    # A judge repeating itself has no spread: that is no evidence that its mean is exact.
    same = estimate([96, 96, 96, 96, 96])
    assert same.interval is None
    assert same.describe() == "96 (all 5 samples the same: no spread to build an interval from)"
    assert estimate([90, 80, 100], "segments").describe().endswith(", 3 segments)")


# --- non-translations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,flag", [
    (SOURCE, "source copy"),
    (SOURCE.replace("twice", "two times"), "source copy"),
    (FRENCH, "wrong language (fr)"),
    ("   ", "empty"),
    (GERMAN, None),
    ("Der Hund läuft.", "too short for the source"),  # a sentence for a paragraph
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
