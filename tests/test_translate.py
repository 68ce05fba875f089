"""Translation comparison: engines through their real clients, the judge, agreement, select-best, fallback."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
import sacrebleu

from parallax.config import Config, load_config
from parallax.documents import InputError
from parallax.engines.pseudo import pseudo_localise
from parallax.export import to_csv, to_json
from parallax.reducers import reduce
from parallax.results import BranchResult, Finding
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_translate
from parallax.translate.judge import highlight, mqm_score, neutral_labels, parse_mqm
from parallax.translate.metrics import agreement_matrix, word_diff
from parallax.translate.request import TranslationSettings, glossary_compliance, parse_glossary
from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.fakes.provider_server import DEFAULT_TRANSLATION, ok, status

SOURCE = "The dog runs fast."
DEEPL_KEY = "deepl-test-key-0123456789:fx"


@pytest.fixture
def tconfig(fake) -> Config:  # type: ignore[no-untyped-def]
    return load_config(env={
        "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": fake.anthropic_url,
        "DEEPL_AUTH_KEY": DEEPL_KEY, "DEEPL_SERVER_URL": fake.anthropic_url,
        "LIBRETRANSLATE_URL": fake.anthropic_url,
    })


def translate(config: Config, engines: list[str], judge: str | None = None, samples: int = 1,
              **settings) -> RunOutcome:  # type: ignore[no-untyped-def]
    plan = plan_translate(SOURCE, config, TranslationSettings("en", "de", judge=judge, judge_samples=samples,
                                                               **settings), engines)
    return asyncio.run(execute(plan))


def mqm_reply(errors_by_label: dict[str, list[dict[str, str]]]) -> str:
    return json.dumps({"translations": [{"label": k, "errors": v} for k, v in errors_by_label.items()]})


def test_chrf_agreement_equals_sacrebleu_on_a_fixed_pair():
    hyp, ref = "Der Hund läuft schnell.", "Der Hund rennt schnell."
    matrix = agreement_matrix({"a": hyp, "b": ref})
    assert matrix["a"]["b"] == round(sacrebleu.sentence_chrf(hyp, [ref]).score, 2) == 61.53
    assert matrix["b"]["a"] == round(sacrebleu.sentence_chrf(ref, [hyp]).score, 2)


def test_deepl_and_libretranslate_through_their_real_clients(fake, tconfig):
    fake.enqueue("libretranslate", ok("Der Hund rennt schnell."))
    outcome = translate(tconfig, ["deepl", "libretranslate"], reference="Der Hund rennt schnell.")
    deepl, libre = outcome.ordered()
    assert (deepl.status, deepl.text, deepl.answered_by) == ("ok", DEFAULT_TRANSLATION, "deepl")
    assert (libre.status, libre.text) == ("ok", "Der Hund rennt schnell.")
    sent = {r["model"]: r for r in fake.requests}
    assert sent["deepl"]["body"]["target_lang"] == "DE" and sent["deepl"]["body"]["text"] == [SOURCE]
    assert sent["deepl"]["headers"].get("Authorization") == f"DeepL-Auth-Key {DEEPL_KEY}"
    assert sent["libretranslate"]["body"] == {"q": SOURCE, "source": "en", "target": "de", "format": "text"}
    assert deepl.agreement == libre.agreement == pytest.approx((61.53 + 61.53) / 2, abs=0.5)
    assert libre.chrf_reference == 100.0 and deepl.chrf_reference == 61.53
    bleu = sacrebleu.sentence_bleu(DEFAULT_TRANSLATION, ["Der Hund rennt schnell."]).score
    assert deepl.bleu_reference == round(bleu, 2)


@pytest.mark.parametrize("reply,message", [
    (status(403, {"message": "Wrong key"}), "DeepL: authentication failed (HTTP 403) — check the API key"),
    (status(456, {"message": "Quota exceeded"}), "DeepL: quota exceeded for this billing period (HTTP 456)"),
])
def test_deepl_failures(fake, tconfig, reply, message):
    fake.enqueue("deepl", reply)
    outcome = translate(tconfig, ["deepl"])
    (r,) = outcome.ordered()
    assert (r.status, r.error) == ("error", message)
    assert DEEPL_KEY not in to_json(outcome) and DEEPL_KEY not in to_csv(outcome)


def test_libretranslate_error_message(fake, tconfig):
    fake.enqueue("libretranslate", status(400, {"error": "zz is not supported"}))
    (r,) = translate(tconfig, ["libretranslate"]).ordered()
    assert r.error == "LibreTranslate: request rejected (HTTP 400): zz is not supported"


def test_fallback_chain_records_who_answered_and_what_failed_before(fake, tconfig):
    fake.enqueue("down", status(401, {"error": {"message": "bad key"}}))
    outcome = translate(tconfig, ["openai:down|sim:flaky?latency=0&fail=error|deepl"])
    (r,) = outcome.ordered()
    assert (r.status, r.answered_by, r.text) == ("ok", "deepl", DEFAULT_TRANSLATION)
    assert r.fallbacks == [
        {"engine": "openai:down", "status": "error",
         "error": "OpenAI: authentication failed (HTTP 401) — check the API key"},
        {"engine": "sim:flaky?latency=0&fail=error", "status": "error",
         "error": "Simulated: server error (HTTP 500) after 1 attempt"},
    ]
    assert json.loads(to_json(outcome))["branches"][0]["answered_by"] == "deepl"
    row = next(csv.DictReader(io.StringIO(to_csv(outcome))))
    assert row["answered_by"] == "deepl" and json.loads(row["fallbacks"])[0]["engine"] == "openai:down"


def test_judge_scores_with_neutral_labels_and_select_best(fake, tconfig):
    fake.enqueue("libretranslate", ok("Der Hund rennt schnell."))
    # Whichever order the labels come in, the judge finds one major error in the text with "läuft".
    def judge_reply() -> str:
        prompt = fake.requests[-1]["body"]["messages"][-1]["content"]
        labels = {}
        for label in "AB":
            block = prompt.split(f'<translation label="{label}">')[1].split("</translation>")[0]
            labels[label] = [{"span": "läuft", "category": "accuracy", "severity": "major", "note": "wrong verb"}] \
                if "läuft" in block else []
        return mqm_reply(labels)

    original = fake.next_reply

    def reply_for(model: str):  # type: ignore[no-untyped-def]
        return ok(judge_reply()) if model == "judge-model" else original(model)

    fake.next_reply = reply_for
    outcome = translate(tconfig, ["deepl", "libretranslate"], judge="openai:judge-model", samples=2,
                        judge_protocol="compare")
    deepl, libre = outcome.ordered()
    assert (deepl.judge_score, libre.judge_score) == (80.0, 100.0)
    assert deepl.judge_spread == 0 and deepl.issues[0].quote == "läuft" and deepl.issues[0].category == "accuracy"
    agg = outcome.aggregate
    assert (agg.method, agg.best, agg.margin, agg.confident) == ("best", "libretranslate", 20.0, None)
    assert agg.formula == "best by judge score: libretranslate 100 vs deepl 80, ahead by 20"
    assert agg.verdict().startswith("too short to tell: libretranslate leads by 20, but 1 segment cannot show")
    judge_calls = [r for r in fake.requests if r["model"] == "judge-model"]
    assert len(judge_calls) == 2
    for call in judge_calls:
        prompt = call["body"]["messages"][-1]["content"]
        assert "deepl" not in prompt and "libretranslate" not in prompt  # engines are never named to the judge
        assert call["body"]["response_format"]["json_schema"]["name"] == "mqm_judgement"
    data = json.loads(to_json(outcome))
    assert data["best"] == "libretranslate" and data["agreement_matrix"]["deepl"]["libretranslate"] == 61.53
    assert data["judge_cost_usd"] is None  # judge-model has no price: unknown, not 0


def test_unreadable_judgement_is_marked_never_a_number(fake, tconfig):
    fake.enqueue("judge-model", ok("They are both fine."), ok("Really, both fine."))
    outcome = translate(tconfig, ["deepl", "offline:pseudo"], judge="openai:judge-model")
    deepl, pseudo = outcome.ordered()
    assert deepl.status == "ok" and deepl.judge_score is None and deepl.score is None
    assert deepl.judge_error.startswith("no judgement: OpenAI: unparseable judgement (not valid JSON")
    # Pseudo-localisation is no translation: never sent to the judge (it could not win anyway).
    assert pseudo.non_translation == "pseudo-localisation" and pseudo.judge_error is None
    assert fake.calls("judge-model") == 2  # asked once more with the parse error, then given up
    assert outcome.aggregate.formula.startswith("only deepl is a translation")


@pytest.mark.parametrize("engines,source,target,message", [
    (["deepl"], "en", "xx", "unknown target language 'xx'"),
    (["deepl"], "en", "hi", "DeepL does not translate into Hindi"),
    (["deepl"], "en", "en", "source and target are both English"),
    (["offline:rules"], "en", "de", "offline:rules cannot translate: it is for review only"),
    (["deepl|"], "en", "de", "has an empty link"),
])
def test_bad_pairs_and_engines_are_refused_before_any_call(fake, tconfig, engines, source, target, message):
    with pytest.raises(InputError, match=message):
        plan_translate(SOURCE, tconfig, TranslationSettings(source, target), engines)
    assert fake.calls() == 0


def test_judge_must_be_able_to_judge(tconfig):
    with pytest.raises(InputError, match="deepl cannot judge"):
        plan_translate(SOURCE, tconfig, TranslationSettings("en", "de", judge="deepl"), ["offline:pseudo"])


def test_select_best_tie_breaks_by_agreement_then_declared_order():
    def r(order: int, score: float | None, agreement: float | None) -> BranchResult:
        return BranchResult(f"e{order}", order, f"e{order}", "translation", score=score, agreement=agreement)

    agg = reduce([r(0, 90, 40), r(1, 90, 55), r(2, 80, 70)], "best")
    assert (agg.best, agg.margin) == ("e1", 0)
    assert "tie broken by agreement 55 vs 40" in agg.formula
    agg = reduce([r(0, 90, 40), r(1, 90, 40)], "best")
    assert agg.best == "e0" and "first in declared order" in agg.formula
    agg = reduce([r(0, None, 30), r(1, None, 60), r(2, None, 50)], "best")
    assert agg.best == "e1" and agg.score is None and agg.formula.startswith("best by agreement (no scores)")
    assert agg.headline() == "Consensus translation: e1" and "not a judged quality" in agg.verdict()
    # Two translations and no judge: agreement is symmetric, so nothing decides (no first-listed winner).
    agg = reduce([r(0, None, 60), r(1, None, 60)], "best")
    assert agg.best is None and agg.formula == "no best: two translations and no judge: agreement is symmetric, " \
        "so it cannot pick one"


def test_mqm_parse_and_formula():
    reply = mqm_reply({"A": [{"span": "x", "category": "fluency", "severity": "critical", "note": ""},
                             {"span": "y", "category": "style", "severity": "minor", "note": ""}], "B": []})
    found = parse_mqm(reply, {"A": ["x y"], "B": ["z"]}, [0])
    assert mqm_score(found["A"]) == 0 and mqm_score(found["B"]) == 100  # a critical error: GEMBA's cap of −25
    with pytest.raises(ValueError, match="no entry for label B"):
        parse_mqm(mqm_reply({"A": []}), {"A": [""], "B": [""]}, [0])
    with pytest.raises(ValueError, match="severity 'fatal'"):
        parse_mqm(mqm_reply({"A": [{"span": "x", "category": "style", "severity": "fatal"}]}), {"A": ["x"]}, [0])


def test_neutral_labels_rotate_per_sample_and_are_reproducible():
    ids = [f"engine{i}" for i in range(6)]
    orders = {tuple(b for _, b in neutral_labels(ids, s, "run1")) for s in range(5)}
    assert len(orders) == 5  # samples see different orders
    assert neutral_labels(ids, 0, "run1") == neutral_labels(ids, 0, "run1")
    assert [label for label, _ in neutral_labels(ids, 3, "run1")] == list("ABCDEF")


def test_glossary_file_and_compliance():
    glossary = parse_glossary("# terms\ndog,Hund\ncat = Katze\nrun\tlaufen\n")
    assert glossary == (("dog", "Hund"), ("cat", "Katze"), ("run", "laufen"))
    assert glossary_compliance("The dog runs.", "Der Köter läuft.", glossary) == {"dog": False}
    assert glossary_compliance("The dog runs.", "Der Hund läuft.", glossary) == {"dog": True}
    with pytest.raises(ValueError, match="glossary line 1"):
        parse_glossary("just a word\n")


def test_highlight_and_word_diff():
    errors = [Finding("major", "läuft", "wrong verb", "accuracy")]
    assert highlight("Der Hund läuft schnell.", errors) == [
        ("Der Hund ", None), ("läuft", "major"), (" schnell.", None)]
    assert word_diff("Der Hund läuft schnell.", "Der Hund rennt schnell.") == [
        ("=", "Der Hund "), ("-", "läuft "), ("+", "rennt "), ("=", "schnell.")]


def test_pseudo_localisation_is_plainly_not_a_translation():
    out = pseudo_localise("Save {count} files to https://example.com now")
    assert out.startswith("[!! ") and out.endswith(" !!]")
    assert "{count}" in out and "https://example.com" in out  # placeholders survive
    assert "Šåvé" in out and len(out) > len("Save {count} files to https://example.com now") * 1.3


def test_offline_translation_run_needs_no_key():
    config = load_config(env={})
    plan = plan_translate(SOURCE, config, TranslationSettings("en", "fr"))
    assert [b.engine for b in plan.branches] == ["offline:pseudo"] and plan.settings.judge is None
    outcome = asyncio.run(execute(plan))
    assert outcome.ordered()[0].text.startswith("[!! ")
