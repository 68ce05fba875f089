"""Batches ask each provider for whole replies (nobody watches a batch stream) through the real SDKs: the same
scores, tokens, costs and statuses as a streamed call, less work per call."""

from __future__ import annotations

import json

from tests.fakes.provider_server import ok, status
from tests.test_batch import batch, results, write_csv


def test_a_review_batch_asks_both_providers_for_whole_replies(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-batch-0123456789abcdefghij")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "fake-anthropic-batch-0123456789abcdef")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.anthropic_url)
    fake.enqueue("gpt-4o-mini", ok(chunks=4, usage=(120, 40)))
    fake.enqueue("claude-haiku-4-5", ok(chunks=4, usage=(130, 50)))
    fake.enqueue("gpt-4o-mini", status(503, {"error": {"message": "overloaded"}}, {"retry-after-ms": "5"}),
                 ok(chunks=4))  # the SDK still retries
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."], ["d2", "Second text."]])
    code, _, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                          "-e", "openai:gpt-4o-mini", "-e", "anthropic:claude-haiku-4-5", "--no-cache",
                          "--concurrency", "1"])
    assert code == 0, err
    sent = [r for r in fake.requests if r["model"] in ("gpt-4o-mini", "claude-haiku-4-5")]
    assert len(sent) == 5 and not any(r["body"].get("stream") for r in sent)  # whole replies, one retried
    assert not any("stream_options" in r["body"] for r in sent)
    rows = {r["id"]: r for r in results(tmp_path / "out.csv")}
    openai_branch, anthropic_branch = "legal@openai:gpt-4o-mini", "legal@anthropic:claude-haiku-4-5"
    assert rows["d1"][f"score:{openai_branch}"] == rows["d1"][f"score:{anthropic_branch}"] == "7.0"
    assert rows["d1"]["status"] == rows["d2"]["status"] == "ok"
    branches = {json.loads(line)["id"]: json.loads(line)["results"]
                for line in (tmp_path / "out.branches.jsonl").read_text().splitlines()}
    first = {r["engine"]: r for r in branches["d1"]}
    assert (first["openai:gpt-4o-mini"]["input_tokens"], first["openai:gpt-4o-mini"]["output_tokens"]) == (120, 40)
    assert (first["anthropic:claude-haiku-4-5"]["input_tokens"],
            first["anthropic:claude-haiku-4-5"]["output_tokens"]) == (130, 50)
    assert first["anthropic:claude-haiku-4-5"]["structured_mode"] == "tool"
    assert first["openai:gpt-4o-mini"]["cost_usd"] > 0
    second = {r["engine"]: r for r in branches["d2"]}
    assert second["openai:gpt-4o-mini"]["retries"] == 1 and second["openai:gpt-4o-mini"]["status"] == "ok"
