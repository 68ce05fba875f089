"""Review samples: k calls per branch, never cached; the score is their mean with sd and a 95% interval, and
select-best over reviews says when a lead is noise. The CLI and exports say it the same way."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from parallax import cli
from parallax.export import to_csv, to_json
from parallax.run.execute import execute
from parallax.run.plan import plan_review
from tests.conftest import OPENAI_KEY
from tests.fakes.provider_server import DEFAULT_JUDGEMENT, ok

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def review(score: float, confidence: float = 0.8) -> str:
    return json.dumps({**DEFAULT_JUDGEMENT, "score": score, "confidence": confidence})


def test_each_branch_is_asked_k_times_and_scored_with_the_mean(fake, config):
    fake.enqueue("m", *(ok(review(s)) for s in (6, 7, 8)))
    plan = plan_review("A short text to review.", config, ["technical"], ["openai:m"], samples=3)
    (r,) = asyncio.run(execute(plan)).ordered()
    assert fake.calls("m") == 3
    assert sorted(r.samples) == [6, 7, 8] and r.score == 7
    est = r.estimate
    # Student's t with 2 degrees of freedom: 7 ± 4.303 × 1 / √3
    assert (est.n, est.mean, est.sd) == (3, 7.0, 1.0) and est.low == 4.52 and est.high == 9.48
    assert r.output_tokens == 3 * 40  # the cost of every sample is counted


def test_samples_are_never_replayed_from_the_cache(fake, config, tmp_path):
    from parallax.storage import Store

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    for _ in range(2):
        plan = plan_review("Cache me if you can.", config, ["technical"], ["openai:m"], samples=2)
        plan.cache = store
        asyncio.run(execute(plan))
    assert fake.calls("m") == 4  # 2 runs × 2 samples, all fresh
    plan = plan_review("Cache me if you can.", config, ["technical"], ["openai:m"])
    plan.cache = store
    asyncio.run(execute(plan))
    assert fake.calls("m") == 5  # one sample: the cache may answer, and it had nothing stored for it


def test_the_cli_shows_intervals_and_no_clear_winner(fake, config, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path))
    fake.enqueue("a", *(ok(review(s, 0.7)) for s in (7, 8, 6)))
    fake.enqueue("b", *(ok(review(s, 0.9)) for s in (7, 6, 7)))
    source = tmp_path / "doc.txt"
    source.write_text("Release notes for version 2.", encoding="utf-8")
    out = io.StringIO()
    code = cli.main(["review", str(source), "-p", "technical", "-e", "openai:a", "-e", "openai:b", "--samples", "3",
                     "--reducer", "best", "--json", str(tmp_path / "r.json"), "--no-cache"], out=out,
                    err=io.StringIO())
    text = out.getvalue()
    assert code == 0
    assert "7 [4.52, 9.48]" in text  # branch a: mean and 95% interval
    # Repeated samples of one text measure the model's consistency: never a "clear" lead.
    # (the three samples are answered in arrival order, so which sample got which reply varies: 1 or 2 of 3)
    assert re.search(r"verdict: technical@openai:a scored highest \(0\.3333 ahead\), untested: repeated samples "
                     r"measure the model's consistency, not a difference; the model preferred it in [12] of 3 "
                     r"samples", text)
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["aggregate"]["confident"] is None
    a = data["branches"][0]
    assert a["estimate"] == {"n": 3, "mean": 7.0, "sd": 1.0, "ci_low": 4.52, "ci_high": 9.48}
    assert a["confidence"] == 0.7


def test_review_page_has_a_samples_control_and_shows_the_models_confidence(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path))
    fake.enqueue("gpt-4o-mini", *(ok(review(s, 0.6)) for s in (5, 6, 7)))
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.multiselect(key="review_perspectives").set_value(["technical"]).run()
    at.number_input(key="review_samples").set_value(3).run()
    at.button(key="review_run").click().run()
    assert not at.exception
    captions = [c.value for c in at.main.caption]
    shown = "mean of 3 samples (all fresh calls), sd 1, 95% CI 3.52 to 8.48 · model's self-reported confidence 60%"
    assert any(shown in c for c in captions)
    outcome = at.session_state["review_outcome"]
    row = next(csv.DictReader(io.StringIO(to_csv(outcome))))
    assert (row["score"], row["samples_n"], row["score_sd"], row["score_ci_low"], row["score_ci_high"],
            row["confidence"]) == ("6.0", "3", "1.0", "3.52", "8.48", "0.6")
    # three concurrent calls: the fake answers them in the order they reach it, which may vary
    assert sorted(json.loads(to_json(outcome))["branches"][0]["samples"]) == [5.0, 6.0, 7.0]


def test_a_batch_reports_each_branch_over_documents_and_a_paired_comparison(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path))
    docs = 6
    # a beats b by exactly 1 on every document, whatever the document's own difficulty
    fake.enqueue("a", *(ok(review(3 + d)) for d in range(docs)))
    fake.enqueue("b", *(ok(review(2 + d)) for d in range(docs)))
    source = tmp_path / "in.csv"
    source.write_text("id,text\n" + "".join(f"d{d},Document number {d}.\n" for d in range(docs)), encoding="utf-8")
    out = io.StringIO()
    code = cli.main(["batch", str(source), "--column", "text", "--out", str(tmp_path / "o.csv"), "-p", "technical",
                     "-e", "openai:a", "-e", "openai:b", "--concurrency", "1", "--no-cache",
                     "--json", str(tmp_path / "s.json")], out=out, err=io.StringIO())
    assert code == 0
    text = out.getvalue()
    assert "technical@openai:a  5.5 [" in text
    # Six documents, each a 1-point lead: a paired permutation test over documents (2/2⁶ = 0.031).
    assert ("technical@openai:a vs technical@openai:b: lead 1 over 6 documents, p = 0.031 (paired permutation test, "
            "Holm) — a clear lead") in text
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert summary["comparisons"][0]["clear"] is True and summary["scores"]["technical@openai:b"]["n"] == docs
