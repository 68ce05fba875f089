"""`parallax batch --provider-batch`: the providers' own batch APIs through the real SDKs, against the fake's
OpenAI Batch and Anthropic Message Batches endpoints — submit, poll, collect, resume after a stop, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parallax.storage import open_store
from tests.fakes.provider_server import Reply, status
from tests.test_batch import batch, results, write_csv

ROOT = Path(__file__).resolve().parent.parent
OPENAI_KEY = "fake-key-provider-batch-0123456789ab"
ANTHROPIC_KEY = "fake-anthropic-provider-batch-012345"
OPENAI_BRANCH, ANTHROPIC_BRANCH = "legal@openai:gpt-4o-mini", "legal@anthropic:claude-haiku-4-5"


@pytest.fixture
def keys(fake, monkeypatch):
    for name, value in {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url,
                        "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": fake.anthropic_url}.items():
        monkeypatch.setenv(name, value)
    return fake


def _direct_calls(fake) -> list[dict]:
    return [r for r in fake.requests if r["path"].endswith(("/chat/completions", "/messages"))]


def test_both_providers_batches_are_sent_polled_and_collected_at_half_the_price(tmp_path, keys):
    fake = keys
    fake.batches.polls = 2
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."], ["d2", "Second text."], ["bad", ""]])
    out = tmp_path / "out.csv"
    code, stdout, err = batch([str(source), "--column", "text", "--out", str(out), "-p", "legal",
                               "-e", "openai:gpt-4o-mini", "-e", "anthropic:claude-haiku-4-5", "--provider-batch",
                               "--poll", "0.01", "--no-cache"])
    assert code == 0, err
    assert _direct_calls(fake) == []  # every call went through the batch APIs
    assert [r["path"] for r in fake.requests] == ["/v1/files", "/v1/batches", "/v1/messages/batches"]
    assert len(fake.batches.created) == 2  # one batch per engine
    sent = {b["model"]: b["body"] for b in fake.batched}
    assert sent["gpt-4o-mini"]["response_format"]["type"] == "json_schema"
    assert "stream" not in sent["gpt-4o-mini"] and sent["gpt-4o-mini"]["max_completion_tokens"] > 0
    assert sent["claude-haiku-4-5"]["tool_choice"]["type"] == "tool"
    for model in ("gpt-4o-mini", "claude-haiku-4-5"):  # each document once per engine, delimited as in a call
        contents = [b["body"]["messages"][-1]["content"] for b in fake.batched if b["model"] == model]
        assert len(contents) == 2 and sum("First text." in c for c in contents) == 1
        assert sum("Second text." in c for c in contents) == 1
    # Waiting is shown: each part's state and counts, then the end.
    assert "in_progress, 0 of 2 answered" in err and "completed, 2 of 2 answered" in err and "ended" in err
    rows = {r["id"]: r for r in results(out)}
    assert rows["bad"]["status"] == "invalid"
    for doc in ("d1", "d2"):
        assert rows[doc]["status"] == "ok" and rows[doc][f"score:{OPENAI_BRANCH}"] == "7.0"
        assert rows[doc][f"score:{ANTHROPIC_BRANCH}"] == "7.0"
    # The batch price: half of (120 in, 40 out) tokens at each model's price.
    from parallax.config import load_config

    prices = load_config(None).prices
    full = sum((120 * prices[e]["input"] + 40 * prices[e]["output"]) / 1e6
               for e in ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"))
    assert float(rows["d1"]["cost_usd"]) == pytest.approx(full / 2, rel=1e-6)
    assert "3 of 3 documents done" in stdout and "1 failed or invalid" in stdout
    assert open_store().provider_batches() == []  # collected: nothing waits any more
    assert open_store().provider_batches(None)[0]["status"] == "collected"


def test_errored_and_expired_requests_are_row_errors_and_the_rest_is_kept(tmp_path, keys):
    fake = keys
    fake.batches.polls = 0

    def answer(model: str, body: dict) -> Reply | None:
        text = body["messages"][-1]["content"]
        if "Rejected text" in text:
            return status(400, {"error": {"message": "Invalid 'max_completion_tokens'", "type": "invalid_request"}})
        if "Late text" in text:
            return Reply("expired")
        return None

    fake.answer = answer
    source = write_csv(tmp_path / "in.csv", [["d1", "Good text."], ["d2", "Rejected text."], ["d3", "Late text."]])
    out = tmp_path / "out.csv"
    for engine, branch in (("openai:gpt-4o-mini", OPENAI_BRANCH), ("anthropic:claude-haiku-4-5", ANTHROPIC_BRANCH)):
        target = out.with_name(f"{engine.split(':')[0]}.csv")
        code, _, err = batch([str(source), "--column", "text", "--out", str(target), "-p", "legal", "-e", engine,
                              "--provider-batch", "--poll", "0.01", "--no-cache"])
        assert code == 0, err
        rows = {r["id"]: r for r in results(target)}
        assert rows["d1"]["status"] == "ok" and rows["d1"][f"score:{branch}"] == "7.0"
        assert rows["d2"]["status"] == "failed" and "in the provider batch (HTTP 400)" in rows["d2"]["error"]
        assert "Invalid 'max_completion_tokens'" in rows["d2"]["error"]
        assert rows["d3"]["status"] == "failed" and "expired: the 24-hour window ended" in rows["d3"]["error"]
        assert rows["d2"][f"score:{branch}"] == ""
        assert rows["d2"]["cost_usd"] == "0.0"  # a request the provider refused (HTTP 400) is not billed
    assert _direct_calls(fake) == []


def test_no_wait_then_resume_collects_later_and_only_once(tmp_path, keys):
    fake = keys
    fake.batches.polls = 1
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."], ["d2", "Second text."]])
    out = tmp_path / "out.csv"
    code, stdout, err = batch([str(source), "--column", "text", "--out", str(out), "-p", "legal", "-p", "technical",
                               "-e", "openai:gpt-4o-mini", "--provider-batch", "--no-wait", "--no-cache"])
    assert code == 0, err
    job = open_store().provider_batches()[0]
    assert f"parallax batch --resume {job['job_id']}" in stdout
    assert job["parts"][0]["total"] == 4 and job["job"]["rows"] == {"1": "d1", "2": "d2"}
    assert OPENAI_KEY not in str(job)  # no key in the stored job
    assert results(out) == []  # nothing collected yet
    code, stdout, err = batch(["--resume", "--poll", "0.01"])
    assert code == 0, err
    assert {r["id"]: r["status"] for r in results(out)} == {"d1": "ok", "d2": "ok"}
    assert "2 of 2 documents done" in stdout
    code, _, err = batch(["--resume"])
    assert code == 2 and "no provider batch is waiting" in err
    assert len(fake.batches.created) == 1 and _direct_calls(fake) == []


def test_a_killed_wait_is_resumed_from_the_history(tmp_path, keys):
    fake = keys
    fake.batches.polls = 10**6  # the provider is still working when the process is killed
    source = write_csv(tmp_path / "in.csv", [[f"d{i}", f"Text {i}."] for i in range(3)])
    out = tmp_path / "out.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    waiting = subprocess.Popen([sys.executable, "-m", "parallax", "batch", str(source), "--column", "text", "--out",
                                str(out), "-p", "legal", "-e", "anthropic:claude-haiku-4-5", "--provider-batch",
                                "--poll", "0.05", "--no-cache"], env=env, stderr=subprocess.PIPE, text=True)
    assert waiting.stderr is not None
    lines = []
    while not any("in_progress" in line for line in lines):
        line = waiting.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
    waiting.send_signal(signal.SIGKILL)
    waiting.wait()
    assert results(out) == []
    fake.batches.polls = 0
    started = time.monotonic()
    code, stdout, err = batch(["--resume", "--poll", "0.01"])
    assert code == 0, err
    assert sorted(r["id"] for r in results(out)) == ["d0", "d1", "d2"]
    assert all(r["status"] == "ok" for r in results(out))
    assert len(fake.batches.created) == 1 and _direct_calls(fake) == []  # collected, not sent again
    assert time.monotonic() - started < 30


def test_engines_without_a_batch_api_are_refused_before_anything_is_sent(tmp_path, keys):
    fake = keys
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."]])
    for engine, said in (("offline:rules", "offline:rules has no batch API"),
                         ("openai:gpt-4o-mini|anthropic:claude-haiku-4-5", "not the fallback chain")):
        code, _, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                              "-e", engine, "--provider-batch"])
        assert code == 2 and said in err
    code, _, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                          "-e", "openai:gpt-4o-mini", "--provider-batch", "--samples", "3"])
    assert code == 2 and "leave out --samples" in err
    assert fake.requests == [] and open_store().provider_batches() == []
    assert not (tmp_path / "out.csv").exists() or results(tmp_path / "out.csv") == []


def test_the_estimate_prices_a_provider_batchs_branches_at_half_and_its_judge_in_full(keys):
    from parallax.batch.provider import BATCH_PRICE_FACTOR
    from parallax.config import load_config
    from parallax.estimate import estimate_batch
    from parallax.run.plan import plan_review, plan_translate
    from parallax.translate.request import TranslationSettings

    config = load_config(None)
    texts = ["A first text to review, with a few words.", "A second, longer text to review " * 5]
    review = plan_review("x", config, ["legal", "technical"], ["openai:gpt-4o-mini"], "mean", None, 60.0)
    normal, halved = estimate_batch(review, texts, 100), estimate_batch(review, texts, 100, BATCH_PRICE_FACTOR)
    assert normal.cost_usd > 0 and halved.cost_usd == pytest.approx(normal.cost_usd / 2)
    assert normal.branches == 200
    settings = TranslationSettings("en", "de", judge="openai:gpt-4o-mini")
    translate = plan_translate("x", config, settings, ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
    without_judge = plan_translate("x", config, TranslationSettings("en", "de"),
                                   ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
    full, half = estimate_batch(translate, texts, 10), estimate_batch(translate, texts, 10, BATCH_PRICE_FACTOR)
    branches_only = estimate_batch(without_judge, texts, 10).cost_usd
    assert half.cost_usd == pytest.approx(full.cost_usd - branches_only / 2)  # the judge is not discounted


def test_a_job_stored_with_only_the_pages_options_is_collected_by_the_cli(tmp_path, keys):
    import asyncio

    from parallax.batch.output import BatchOutput
    from parallax.batch.provider import submit
    from parallax.batch.rows import read_rows
    from parallax.config import load_config
    from parallax.run.plan import plan_review

    keys.batches.polls = 0
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."]])
    out = tmp_path / "out.csv"
    plan = plan_review("x", load_config(None), ["legal"], ["openai:gpt-4o-mini"], "mean", None, 120.0)
    options = {"command": "review", "mode": "review", "input": str(source), "column": "text", "id_column": None,
               "out": str(out), "perspective": ["legal"], "engine": ["openai:gpt-4o-mini"], "reducer": "mean",
               "concurrency": 32, "timeout": 120.0, "config": None, "no_cache": True}  # what the Batch page keeps
    output = BatchOutput(plan, out, 1)
    try:
        asyncio.run(submit(plan, output.to_run(read_rows(source, "text")), open_store(), out, options))
    finally:
        output.close()
    code, stdout, err = batch(["--resume", "--poll", "0.01"])
    assert code == 0, err
    assert [r["status"] for r in results(out)] == ["ok"] and "1 of 1 documents done" in stdout


def test_a_refused_part_is_its_documents_error_and_the_accepted_part_is_still_collected(tmp_path, keys):
    fake = keys
    fake.batches.polls, fake.batches.refuse = 0, {"anthropic"}
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."]])
    out = tmp_path / "out.csv"
    args = [str(source), "--column", "text", "--out", str(out), "-p", "legal", "-e", "openai:gpt-4o-mini",
            "-e", "anthropic:claude-haiku-4-5", "--provider-batch", "--poll", "0.01", "--no-cache"]
    code, _, err = batch(args)
    assert code == 1, err  # no document succeeded whole (the exit codes' rule for a batch)
    assert "anthropic:claude-haiku-4-5: not sent (Anthropic: request rejected (HTTP 400): too many batches" in err
    (row,) = results(out)
    assert row["status"] == "partial" and row[f"score:{OPENAI_BRANCH}"] == "7.0"
    assert "not sent: Anthropic: request rejected (HTTP 400)" in row["error"]
    assert _direct_calls(fake) == []  # the refused engine is not called directly either
    # Every part refused: nothing waits, the refusal is said, nothing was called.
    fake.batches.refuse = {"openai", "anthropic"}
    code, _, err = batch([*args[:4], str(tmp_path / "again.csv"), *args[5:]])
    assert code == 1 and "could not be sent" in err and "Enqueued token limit reached" in err
    assert open_store().provider_batches() == [] and _direct_calls(fake) == []


def test_a_whole_openai_batch_that_expired_gives_each_document_an_error_not_a_direct_call(tmp_path, keys):
    fake = keys
    fake.batches.polls, fake.batches.expire_all = 0, True
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."], ["d2", "Second text."]])
    code, stdout, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                               "-e", "openai:gpt-4o-mini", "--provider-batch", "--poll", "0.01", "--no-cache"])
    assert code == 1, err  # every document failed
    rows = results(tmp_path / "out.csv")
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all("the batch was expired before this request ran" in r["error"] for r in rows)
    assert _direct_calls(fake) == []
