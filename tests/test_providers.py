"""OpenAI and Anthropic engines through the real SDKs against the loopback fake, with every fault we know of."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from parallax.export import to_csv, to_json
from parallax.review.chunks import split_text
from parallax.run.events import BranchDelta
from parallax.run.execute import execute
from parallax.run.plan import plan_review
from tests.conftest import ANTHROPIC_KEY, DOCUMENT, OPENAI_KEY, only, run
from tests.fakes.provider_server import DEFAULT_JUDGEMENT, fault, ok, status

FAST_RETRY = {"retry-after-ms": "5"}
RATE_LIMITED = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}


@pytest.mark.parametrize("engine", ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
def test_streams_a_structured_judgement(fake, config, engine):
    r = only(run(config, [engine]))
    assert (r.status, r.score, r.confidence, r.summary) == ("ok", 7, 0.8, "Fake provider review.")
    assert r.issues[0].quote == "text" and r.issues[0].severity == "minor"
    assert (r.input_tokens, r.output_tokens, r.retries) == (120, 40, 0)
    assert r.cost_usd is not None and r.cost_usd > 0
    assert r.ttft_ms is not None and r.latency_ms is not None and r.ttft_ms <= r.latency_ms
    body = fake.requests[0]["body"]
    # Structured output through each provider's own mechanism, document delimited as data.
    if engine.startswith("openai"):
        assert body["response_format"]["type"] == "json_schema"
        assert body["stream_options"] == {"include_usage": True}
        prompt = body["messages"][1]["content"]
    else:
        assert body["tool_choice"] == {"type": "tool", "name": "judgement"}
        prompt = body["messages"][0]["content"]
    assert f"<document>\n{DOCUMENT}\n</document>" in prompt


def test_cost_uses_the_price_table(fake, config):
    r = only(run(config, ["openai:gpt-4o-mini"]))
    assert r.cost_usd == pytest.approx((120 * 0.15 + 40 * 0.60) / 1e6)


def test_unknown_model_has_no_cost_rather_than_a_guess(fake, config):
    r = only(run(config, ["openai:some-new-model"]))
    assert r.status == "ok" and r.cost_usd is None and r.output_tokens == 40


@pytest.mark.parametrize("engine,model", [("openai:m", "m"), ("anthropic:m", "m")])
def test_rate_limited_twice_then_ok(fake, config, engine, model):
    fake.enqueue(model, status(429, RATE_LIMITED, FAST_RETRY), status(429, RATE_LIMITED, FAST_RETRY), ok())
    r = only(run(config, [engine]))
    assert (r.status, r.retries, r.score) == ("ok", 2, 7)
    assert fake.calls(model) == 3


def test_rate_limited_every_time_fails_only_that_branch(fake, config):
    fake.enqueue("limited", *[status(429, RATE_LIMITED, FAST_RETRY)] * 3)
    outcome = run(config, ["openai:limited", "openai:good", "anthropic:good"])
    by_engine = {r.engine: r for r in outcome.ordered()}
    bad = by_engine["openai:limited"]
    assert bad.status == "error" and bad.score is None
    assert bad.error == "OpenAI: rate limited after 3 attempts"
    assert bad.retries == 2
    assert [by_engine[e].status for e in ("openai:good", "anthropic:good")] == ["ok", "ok"]
    assert (outcome.aggregate.n_ok, outcome.aggregate.n_total, outcome.aggregate.score) == (2, 3, 7)


@pytest.mark.parametrize("engine,provider", [("openai:m", "OpenAI"), ("anthropic:m", "Anthropic")])
def test_bad_key_names_the_provider_and_never_shows_the_key(fake, config, engine, provider):
    key = OPENAI_KEY if provider == "OpenAI" else ANTHROPIC_KEY
    fake.enqueue("m", status(401, {"error": {"message": f"Incorrect API key provided: {key}", "type": "auth"}}))
    outcome = run(config, [engine])
    r = only(outcome)
    assert r.status == "error"
    assert r.error == f"{provider}: authentication failed (HTTP 401) — check the API key"
    assert fake.calls("m") == 1  # a bad key is not retried
    for exported in (to_json(outcome), to_csv(outcome)):
        assert key not in exported and key[:12] not in exported


def test_server_error_with_html_body(fake, config):
    page = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    fake.enqueue("m", *[status(502, page, FAST_RETRY)] * 3)
    r = only(run(config, ["openai:m"]))
    assert r.status == "error"
    assert r.error == "OpenAI: server error (HTTP 502) after 3 attempts"
    assert "<html" not in r.error


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_dropped_connection_keeps_the_partial_text(fake, config, engine):
    fake.enqueue("m", fault("drop", after=3, chunks=8))
    r = only(run(config, [engine]))
    assert r.status == "error"
    assert "connection" in r.error and r.error.split(":")[0] in ("OpenAI", "Anthropic")
    sent = json.dumps(DEFAULT_JUDGEMENT)
    assert r.text == sent[: round(3 * len(sent) / 8)]  # exactly the three chunks that arrived are kept
    assert r.score is None


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_stalled_stream_is_cut_by_the_deadline(fake, config, engine):
    fake.enqueue("m", fault("stall", after=2))
    started = time.monotonic()
    r = only(run(config, [engine], timeout_s=1.0))
    elapsed = time.monotonic() - started
    assert r.status == "timeout"
    assert "1 s deadline" in r.error
    assert r.text  # the two chunks before the stall
    assert elapsed < 4


def test_anthropic_retry_after_300_is_cut_by_the_deadline(fake, config):
    fake.enqueue(
        "m",
        status(
            429,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
            {"retry-after": "300"},
        ),
    )
    started = time.monotonic()
    r = only(run(config, ["anthropic:m"], timeout_s=1.0))
    assert r.status == "timeout"
    assert time.monotonic() - started < 4  # not five minutes
    assert r.latency_ms is not None and r.latency_ms < 2000


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_stream_without_final_event_is_truncated(fake, config, engine):
    fake.enqueue("m", fault("no_final", after=5))
    r = only(run(config, [engine]))
    assert r.status == "truncated"
    assert "ended before its final event" in r.error
    assert r.text and r.score is None


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_token_limit_is_truncated(fake, config, engine):
    fake.enqueue("m", fault("length"))
    r = only(run(config, [engine]))
    assert r.status == "truncated" and "token limit" in r.error


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_invalid_json_chunk(fake, config, engine):
    fake.enqueue("m", fault("bad_json", after=2))
    r = only(run(config, [engine]))
    assert r.status == "error"
    assert r.error.endswith("the stream contained malformed data")
    assert r.text


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_error_event_mid_stream(fake, config, engine):
    fake.enqueue("m", fault("error_event", after=2))
    r = only(run(config, [engine]))
    assert r.status == "error" and "Overloaded" in r.error and r.text


def test_context_length_errors(fake, config):
    openai_refusal = status(400, {"error": {"message": "This model's maximum context length is 128000 tokens.",
                                            "type": "invalid_request_error", "code": "context_length_exceeded"}})
    too_long = "prompt is too long: 250000 tokens > 200000"
    anthropic_refusal = status(400, {"type": "error", "error": {"type": "invalid_request_error", "message": too_long}})
    # Refused whole, then refused again in every chunk (the review's fallback to chunks).
    document = DOCUMENT * 30
    n = len(split_text(document, size=max(1000, len(document) // 2)))
    fake.enqueue("m", *[openai_refusal] * (n + 1))
    fake.enqueue("c", *[anthropic_refusal] * (n + 1))
    outcome = run(config, ["openai:m", "anthropic:c"], document=document)
    errors = [r.error for r in outcome.ordered()]
    assert errors == [
        f"{n} of {n} chunks failed; chunk 1: OpenAI: the text is too long for this model's context window",
        f"{n} of {n} chunks failed; chunk 1: Anthropic: the text is too long for this model's context window",
    ]
    assert fake.calls("m") == fake.calls("c") == n + 1


@pytest.mark.parametrize("engine", ["openai:m", "anthropic:m"])
def test_unparseable_judgement_is_reasked_once_then_an_error(fake, config, engine):
    fake.enqueue("m", ok("I think it is a 7."), ok("Still no JSON, sorry."))
    r = only(run(config, [engine]))
    assert r.status == "error" and r.score is None  # never a silent 0
    assert r.error.endswith("unparseable judgement (not valid JSON (Expecting value at line 1 column 1))")
    assert fake.calls("m") == 2
    second = json.dumps(fake.requests[1]["body"]["messages"])
    assert "I think it is a 7." in second and "could not be read" in second


def test_reask_that_parses_is_ok(fake, config):
    fake.enqueue("m", ok('{"score": 11, "summary": "x"}'), ok())
    r = only(run(config, ["openai:m"]))
    assert (r.status, r.score) == ("ok", 7)
    assert "'score' 11 is outside 0-10" in json.dumps(fake.requests[1]["body"]["messages"])
    assert r.text == json.dumps(DEFAULT_JUDGEMENT)  # the text is the final answer, not both replies


def test_concurrency_cap_is_respected(fake, config):
    for m in "abcdef":
        fake.enqueue(m, ok(chunks=5, delay=0.05))
    outcome = run(config, [f"openai:{m}" for m in "abcdef"], concurrency=2)
    assert [r.status for r in outcome.ordered()] == ["ok"] * 6
    assert fake.max_active == 2


def test_uncapped_branches_all_run_at_once(fake, config):
    for m in "abcdef":
        fake.enqueue(m, ok(chunks=5, delay=0.05))
    run(config, [f"openai:{m}" for m in "abcdef"])
    assert fake.max_active == 6


async def test_closing_the_stream_cancels_every_provider_call(fake, config):
    engines = ["openai:a", "anthropic:b", "openai:c"]
    for m in "abc":
        fake.enqueue(m, ok(chunks=200, delay=0.05))  # ten seconds each if left alone
    plan = plan_review(DOCUMENT, config, ["technical"], engines)
    streaming: set[str] = set()
    started = time.monotonic()
    task = asyncio.ensure_future(execute(plan, lambda e, o: isinstance(e, BranchDelta) and streaming.add(e.branch_id)))
    while len(streaming) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    closed_by = time.monotonic() + 1.0
    while fake.disconnects < 3 and time.monotonic() < closed_by:
        await asyncio.sleep(0.01)
    assert fake.disconnects == 3  # the server saw every connection close, within a second
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("engine", ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
def test_streamed_calls_one_after_another_keep_one_connection(fake, config, engine):
    # Each stream read to its end: the SDK's pool reuses the connection, not a TCP (and TLS) handshake a call.
    outcome = run(config, [engine], perspectives=("technical", "business", "legal"), concurrency=1)
    assert [r.status for r in outcome.ordered()] == ["ok", "ok", "ok"]
    assert fake.calls() == 3
    assert fake.connections == 1


def test_a_response_held_open_after_done_is_complete(fake, config, monkeypatch):
    # The reply and `data: [DONE]` arrived; the server never ends the body. The branch is ok at once, not cut by
    # the deadline as a timeout.
    monkeypatch.setattr("parallax.engines.openai_engine.DRAIN_S", 0.2)
    fake.enqueue("gpt-4o-mini", fault("open_after_done"))
    r = only(run(config, ["openai:gpt-4o-mini"], timeout_s=20))
    assert (r.status, r.score, r.error) == ("ok", 7, None)
    assert r.latency_ms is not None and r.latency_ms < 10_000
