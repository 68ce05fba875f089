"""Costs are never understated: an unknown cost is never added as $0 (a total says "at least $X; N calls unpriced",
or "unknown"), every total includes the judge, whose own cost has its own line, a fallback chain counts every
engine it called, and the estimate counts the judge prompt that is really sent. Through the real SDKs against
the loopback fake, as a user sees it: printed lines, CSV cells, JSON fields, the page's caption."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from components.settings import _open_history
from parallax import cli
from parallax.config import load_config
from parallax.estimate import estimate_run, estimate_tokens
from parallax.estimate import usd as _usd
from parallax.run.plan import plan_translate
from parallax.translate.request import TranslationSettings
from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY, shown_text
from tests.fakes.provider_server import Reply, fault, ok, status
from tests.test_cli import Stdin

# The fake reports 120 input and 40 output tokens a call.
MINI = (120 * 0.15 + 40 * 0.60) / 1e6  # openai:gpt-4o-mini: $0.000042 a call
HAIKU = (120 * 1.00 + 40 * 5.00) / 1e6  # anthropic:claude-haiku-4-5: $0.00032 a call
TEXT = "The dog runs fast. The cat sleeps all day. Nobody knows why the bird sings at night.\n"
SIM = "sim:a?latency=0&tokens=5&rate=500"
SIM_B = "sim:b?latency=0&tokens=5&rate=500"
DOWN = {"error": {"message": "down"}}
FAST_RETRY = {"retry-after-ms": "5"}


@pytest.fixture
def keys(fake, monkeypatch):  # type: ignore[no-untyped-def]
    for name, value in (("OPENAI_API_KEY", OPENAI_KEY), ("OPENAI_BASE_URL", fake.openai_url),
                        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY), ("ANTHROPIC_BASE_URL", fake.anthropic_url)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PARALLAX_CONFIG", raising=False)
    return fake


def clean_judge(model: str):  # type: ignore[no-untyped-def]
    """A judge on the fake that finds no error in any candidate it is shown."""
    def answer(asked: str, body: dict[str, Any]) -> Reply | None:
        if asked != model:
            return None
        labels = re.findall(r'<translation label="([A-Z])">', body["messages"][-1]["content"])
        return ok(json.dumps({"translations": [{"label": label, "errors": []} for label in labels]}))
    return answer



def command(args: list[str], text: str = TEXT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(args, stdin=Stdin(text.encode()), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def lines_starting(printed: str, start: str) -> list[str]:
    return [line for line in printed.splitlines() if line.startswith(start)]


def test_a_review_with_an_unpriced_engine_says_at_least_and_how_many_calls(keys, tmp_path):
    code, printed, err = command(["review", "-", "-p", "legal", "-e", "openai:gpt-4o-mini",
                                  "-e", "openai:some-new-model", "--json", str(tmp_path / "r.json"),
                                  "--csv", str(tmp_path / "r.csv")])
    assert code == 0, err
    assert lines_starting(printed, "cost:") == ["cost: at least $0.000042; 1 call unpriced"]
    assert lines_starting(printed, "judge:") == []  # a review has no judge
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["cost"]["usd"] is None and data["cost"]["unpriced_calls"] == 1
    assert data["cost"]["at_least_usd"] == pytest.approx(MINI)
    assert data["cost"]["text"] == "at least $0.000042; 1 call unpriced"
    row = next(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert (row["run_cost_usd"], row["run_unpriced_calls"]) == ("", "1")
    assert float(row["run_cost_at_least_usd"]) == pytest.approx(MINI)


def test_nothing_priced_is_unknown_never_zero(keys):
    code, printed, err = command(["review", "-", "-p", "legal", "-e", "openai:some-new-model"])
    assert code == 0, err
    assert lines_starting(printed, "cost:") == ["cost: unknown"]


def test_a_translation_counts_its_judge_in_the_total_and_shows_it_apart(keys, tmp_path):
    keys.answer = clean_judge("gpt-4o-mini")
    code, printed, err = command(["translate", "-", "--source", "en", "--target", "de", "-e", SIM, "-e", SIM_B,
                                  "--judge", "openai:gpt-4o-mini", "--json", str(tmp_path / "t.json"),
                                  "--csv", str(tmp_path / "t.csv")])
    assert code == 0, err
    calls = sum(r["model"] == "gpt-4o-mini" for r in keys.requests)
    assert calls >= 2  # the free translators cost nothing: every cent is the judge's
    judge = calls * MINI
    assert lines_starting(printed, "cost:") == [f"cost: {_usd(judge)} (branches and judge)"]
    assert lines_starting(printed, "judge:") == [f"judge: {_usd(judge)}"]
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["cost"]["usd"] == pytest.approx(judge) and data["judge_cost_usd"] == pytest.approx(judge)
    assert data["cost"]["judge"]["text"] == _usd(judge)
    row = next(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert float(row["run_cost_usd"]) == pytest.approx(judge) and float(row["judge_cost_usd"]) == pytest.approx(judge)


def test_an_unpriced_judge_is_an_unknown_cost_not_zero(keys):
    keys.answer = clean_judge("judge-model")
    code, printed, err = command(["translate", "-", "--source", "en", "--target", "de", "-e", SIM,
                                  "--judge", "openai:judge-model"])
    assert code == 0, err
    assert lines_starting(printed, "judge:") == ["judge: unknown cost"]
    assert lines_starting(printed, "cost:") == ["cost: unknown (branches and judge)"]


def test_a_translate_batch_includes_the_judge_in_its_total_files_and_lines(keys, tmp_path):
    keys.answer = clean_judge("gpt-4o-mini")
    source = tmp_path / "in.csv"
    source.write_text("id,text\nd1,The dog runs fast.\nd2,The cat sleeps.\n", encoding="utf-8")
    out, summary = tmp_path / "out.csv", tmp_path / "summary.json"
    code, printed, err = command(["batch", str(source), "--column", "text", "--mode", "translate", "--source", "en",
                                  "--target", "de", "-e", SIM, "--judge", "openai:gpt-4o-mini", "--out", str(out),
                                  "--json", str(summary), "--no-cache"], text="")
    assert code == 0, err
    judge = sum(r["model"] == "gpt-4o-mini" for r in keys.requests) * MINI
    assert judge > 0
    assert f"cost {_usd(judge)}, " in lines_starting(printed, "2 of 2 documents done")[0]  # was "cost $0"
    assert lines_starting(printed, "judge:") == [f"judge: {_usd(judge)} (in the cost below)"]
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sum(float(r["cost_usd"]) for r in rows) == pytest.approx(judge)
    assert sum(float(r["judge_cost_usd"]) for r in rows) == pytest.approx(judge)
    data = json.loads(summary.read_text())
    assert data["cost_usd"] == pytest.approx(judge) and data["cost"]["judge"]["usd"] == pytest.approx(judge)


def test_a_batch_with_an_unpriced_engine_is_never_summed_as_zero(keys, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,text\nd1,First text.\nd2,Second text.\n", encoding="utf-8")
    out, summary = tmp_path / "out.csv", tmp_path / "summary.json"
    code, printed, err = command(["batch", str(source), "--column", "text", "-p", "legal", "-e", "openai:gpt-4o-mini",
                                  "-e", "openai:some-new-model", "--out", str(out), "--json", str(summary),
                                  "--no-cache"], text="")
    assert code == 0, err
    done = lines_starting(printed, "2 of 2 documents done")[0]
    assert f"cost at least {_usd(2 * MINI)}; 2 calls unpriced, " in done
    assert "cost so far at least" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["cost_usd"], r["unpriced_calls"]) for r in rows] == [("", "1"), ("", "1")]
    assert float(rows[0]["cost_at_least_usd"]) == pytest.approx(MINI)
    data = json.loads(summary.read_text())
    assert data["cost_usd"] is None and data["cost"]["unpriced_calls"] == 2  # was 0.000084: the unknown as $0
    assert data["cost"]["at_least_usd"] == pytest.approx(2 * MINI)


def test_a_fallback_chain_counts_every_engine_it_called(keys, tmp_path):
    """The priced first engine was refused (HTTP 500, retried): not billed, so the chain costs what the second
    engine did — not "unknown"."""
    keys.enqueue("gpt-4o-mini", *[status(500, DOWN, FAST_RETRY)] * 3)
    code, printed, err = command(["review", "-", "-p", "legal", "-e", "openai:gpt-4o-mini|anthropic:claude-haiku-4-5",
                                  "--json", str(tmp_path / "r.json")])
    assert code == 0, err
    (branch,) = json.loads((tmp_path / "r.json").read_text())["branches"]
    assert branch["answered_by"] == "anthropic:claude-haiku-4-5" and branch["fallbacks"][0]["status"] == "error"
    assert branch["cost_usd"] == pytest.approx(HAIKU)
    assert lines_starting(printed, "cost:") == [f"cost: {_usd(HAIKU)}"]


def test_a_chain_whose_first_engine_was_cut_off_is_at_least_the_second(keys, tmp_path):
    """A stream cut mid-way reported no tokens, but the call may be billed: counted as unpriced, never as $0."""
    keys.enqueue("gpt-4o-mini", fault("drop", after=2))
    code, printed, err = command(["review", "-", "-p", "legal", "-e", "openai:gpt-4o-mini|anthropic:claude-haiku-4-5",
                                  "--json", str(tmp_path / "r.json")])
    assert code == 0, err
    (branch,) = json.loads((tmp_path / "r.json").read_text())["branches"]
    assert branch["answered_by"] == "anthropic:claude-haiku-4-5" and branch["cost_usd"] is None
    assert (branch["cost_known_usd"], branch["unpriced_calls"]) == (pytest.approx(HAIKU), 1)
    assert lines_starting(printed, "cost:") == [f"cost: at least {_usd(HAIKU)}; 1 call unpriced"]


def test_the_estimate_counts_the_judge_prompt_really_sent(keys):
    """The judge is sent GEMBA-MQM's few-shot examples with every call: ~1,300 tokens, not ~350."""
    keys.answer = clean_judge("gpt-4o-mini")
    config = load_config(env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": keys.openai_url})
    settings = TranslationSettings("en", "de", judge="openai:gpt-4o-mini")
    plan = plan_translate(TEXT, config, settings, [SIM, SIM_B])
    judged = estimate_run(plan)
    unjudged = estimate_run(dataclasses.replace(plan, settings=dataclasses.replace(settings, judge=None)))
    from parallax.run.execute import execute
    asyncio.run(execute(plan))
    sent = [r["body"] for r in keys.requests if r["model"] == "gpt-4o-mini"]
    assert len(sent) == 2  # one call per translation (the "segments" protocol)
    real = sum(estimate_tokens("".join(m["content"] for m in body["messages"])) for body in sent)
    estimated = judged.input_tokens - unjudged.input_tokens
    assert real > 2000 and abs(estimated - real) / real < 0.1, (estimated, real)
    assert judged.cost_usd is not None and judged.cost_usd > 0


def test_the_page_shows_the_runs_cost_with_unpriced_calls(keys, db_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    _open_history.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=30)
    at.run()
    at.session_state["review_perspectives"] = ["legal"]
    at.radio(key="review_engines_mode").set_value("Matrix: every perspective × every engine").run()
    at.multiselect(key="review_engines_many").set_value(["openai:gpt-4o-mini"]).run()
    at.text_input(key="review_engines_extra").set_value("openai:some-new-model").run()
    at.button(key="review_engines_add").click().run()
    at.button(key="review_run").click().run()
    assert not at.exception
    assert "Cost: at least $0.000042; 1 call unpriced" in shown_text(at.main)
