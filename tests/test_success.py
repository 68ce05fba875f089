"""One meaning of "succeeded" everywhere: the branch came back (an empty translation did not). Being scored or
judged is counted apart. The speed-up is shown only when it means something."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from components.charts import speedup
from parallax import cli
from parallax.config import DEMO_TRANSLATORS, load_config
from parallax.export import to_csv, to_json
from parallax.results import BranchResult
from parallax.run.execute import execute
from parallax.run.plan import plan_translate
from parallax.storage import Store
from parallax.translate.request import TranslationSettings
from tests.fakes.provider_server import ok, status


def translate_cli(tmp_path, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    source = tmp_path / "notes.txt"
    source.write_text("Release notes: sync is faster now. Contact us.", encoding="utf-8")
    out = io.StringIO()
    code = cli.main(["translate", str(source), "--source", "en", "--target", "de", *args], out=out,
                    err=io.StringIO())
    return code, out.getvalue()


def test_a_translation_with_no_judge_succeeded(tmp_path, monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPL_AUTH_KEY", "LIBRETRANSLATE_URL"):
        monkeypatch.delenv(name, raising=False)
    code, out = translate_cli(tmp_path)  # offline:pseudo, nothing to judge with
    assert code == 0  # was 1, "0 of 1 succeeded"
    assert "— 1 of 1 succeeded" in out and "judged" not in out  # no judge: nothing was meant to be judged
    code, out = translate_cli(tmp_path, "--no-judge", *(a for e in DEMO_TRANSLATORS[:2] + ["offline:pseudo"]
                                                          for a in ("-e", e)))
    assert code == 0 and "— 3 of 3 succeeded" in out and "judged" not in out  # was "0 of 3 succeeded", exit 1


def test_every_view_counts_the_same(tmp_path, db_url):
    config = load_config(env={})
    plan = plan_translate("Hello there.", config, TranslationSettings("en", "de"), DEMO_TRANSLATORS[:2])
    from parallax.run.execute import RunOutcome
    from parallax.storage.history import record

    store = Store(db_url)
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store)
    asyncio.run(execute(plan, outcome=outcome))
    a = outcome.aggregate
    assert (a.n_ok, a.n_scored, a.n_total) == (2, None, 2)  # no judge: not "judged 0 of 2"
    assert json.loads(to_json(outcome))["aggregate"]["n_ok"] == 2
    row = next(csv.DictReader(io.StringIO(to_csv(outcome))))
    assert (row["aggregate_n_ok"], row["aggregate_n_scored"]) == ("2", "")
    (listed,) = store.list_runs()
    assert (listed["n_ok"], listed["n_total"]) == (2, 2)


def test_an_empty_translation_is_an_error_not_a_silent_ok(fake, config):
    fake.enqueue("t", ok("   "))
    plan = plan_translate("Good.", config, TranslationSettings("en", "de"), ["openai:t"])
    (r,) = asyncio.run(execute(plan)).ordered()
    assert (r.status, r.error) == ("error", "OpenAI: the reply was empty")


def test_a_translate_batch_row_counts_its_engines(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,text\nd1,Hello there.\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    cli.main(["batch", str(source), "--column", "text", "--out", str(out), "--mode", "translate", "--source", "en",
              "--target", "de", "-e", "offline:pseudo", "--no-judge"], out=io.StringIO(), err=io.StringIO())
    (row,) = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))
    assert (row["status"], row["n_ok"], row["n_scored"], row["n_total"]) == ("ok", "1", "", "1")  # was n_ok 0


def branch(latency: float | None, cached: bool = False) -> BranchResult:
    return BranchResult("b", 0, "e", "p", latency_ms=latency, cached=cached)


def test_the_speedup_is_shown_only_when_it_means_something():
    assert speedup([branch(500), branch(500)], 520) == 1000 / 520
    assert speedup([branch(500)], 500) is None  # one branch: nothing ran in parallel
    assert speedup([branch(500), branch(0.5, cached=True)], 500) is None  # answered from the cache, not run
    assert speedup([branch(50), branch(50)], 1000) is None  # never "0.1× faster"
    # Three translations that fully overlapped, then a judge: the speed-up is over the branches' own span (1 s),
    # not the run's wall time (3 s, the judge included), so it reads 3.0× and not 1.0×.
    overlapped = [BranchResult(f"b{i}", i, "e", "p", latency_ms=1000, started_s=0.0, ended_s=1.0) for i in range(3)]
    assert speedup(overlapped, 3000) == 3.0


def test_judge_samples_are_real_calls_even_with_the_cache_on(fake, config, db_url):
    """The 4th identical run with 3 judge samples still makes 3 fresh judge calls: a spread is never replays."""
    from parallax.run.execute import RunOutcome
    from parallax.storage.history import record

    store = Store(db_url)
    mqm = json.dumps({"translations": [{"label": "A", "errors": []}]})
    fake.next_reply = lambda model: ok(mqm) if model == "j" else ok("Gut.")
    for run in range(4):
        plan = plan_translate("Good.", config, TranslationSettings("en", "de", judge="openai:j", judge_samples=3),
                              ["openai:t"])
        outcome = RunOutcome.for_plan(plan)
        record(plan, outcome, store, use_cache=True)
        asyncio.run(execute(plan, outcome=outcome))
        assert outcome.ordered()[0].cached == (run > 0)  # the translation itself is answered from the cache
    assert fake.calls("t") == 1 and fake.calls("j") == 12


def test_a_cache_hit_in_a_fallback_chain_says_what_was_really_called(fake, config, db_url):
    from parallax.run.execute import RunOutcome
    from parallax.storage.history import record

    store = Store(db_url)
    fake.next_reply = lambda model: status(401, {"error": {"message": "bad key"}}) if model == "down" else ok("Gut.")
    for _ in range(2):
        plan = plan_translate("Good.", config, TranslationSettings("en", "de"), ["openai:down|openai:t"])
        outcome = RunOutcome.for_plan(plan)
        record(plan, outcome, store, use_cache=True)
        asyncio.run(execute(plan, outcome=outcome))
    (r,) = outcome.ordered()
    assert r.cached and fake.calls("down") == 2 and fake.calls("t") == 1  # "down" was really called both times
    assert r.cache_note() == ("openai:t answered from the cache (no call), after real calls that failed: "
                              "openai:down")
    single = BranchResult("b", 0, "e", "p", cached=True)
    assert single.cache_note() == "cached (no call)"


def test_history_keeps_review_and_translation_scores_apart(tmp_path, db_url):
    from parallax.run.execute import RunOutcome
    from parallax.run.plan import plan_review
    from parallax.storage.history import record

    store = Store(db_url)
    config = load_config(env={})
    plans = [plan_review("We guarantee 100% uptime forever.", config, ["legal"], ["sim:r?latency=0&score=7"]),
             plan_translate("Hello there, friends of the open web.", config, TranslationSettings("en", "de"),
                            ["sim:t?latency=0"])]
    for plan in plans:
        outcome = RunOutcome.for_plan(plan)
        record(plan, outcome, store)
        asyncio.run(execute(plan, outcome=outcome))
    runs = {r["mode"]: r for r in store.list_runs()}
    assert (runs["review"]["review_score"], runs["review"]["translation_score"]) == (7, None)
    assert runs["translate"]["review_score"] is None and "score" not in runs["translate"]
    assert [r["mode"] for r in store.list_runs(min_review_score=5)] == ["review"]
    assert store.list_runs(min_review_score=8) == []
    assert [r["mode"] for r in store.list_runs(min_translation_score=0)] == []  # no judge: no translation score


def test_a_translation_whose_judge_failed_is_judged_again_by_retry(fake, config, db_url):
    from parallax.run.execute import RunOutcome
    from parallax.storage.history import outcome_from_record, record, retry_failed, retry_label, to_retry

    store = Store(db_url)
    fake.answer = lambda model, _body: ok("Guten Morgen, alle zusammen.") if model == "t" else None
    fake.enqueue("j", status(400, {"error": {"message": "model overloaded"}}))
    plan = plan_translate("Good morning, everyone.", config,
                          TranslationSettings("en", "de", judge="openai:j"), ["openai:t"])
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store)
    asyncio.run(execute(plan, outcome=outcome))
    fake.enqueue("j", ok(json.dumps({"translations": [{"label": "A", "errors": []}]})))
    assert outcome.ordered()[0].judge_score is None
    stored = store.load_run(plan.run_id)
    failed, rejudge = to_retry(outcome_from_record(stored), stored)
    assert failed == [] and rejudge and retry_label(failed, rejudge) == "the judge"
    calls = fake.calls("t")
    retried = asyncio.run(retry_failed(plan.run_id, store, config))
    (r,) = retried.ordered()
    assert r.judge_score == 100 and fake.calls("t") == calls  # judged again; the translation was not called again
    assert store.load_run(plan.run_id).results[r.branch_id].judge_score == 100
