"""Named OpenAI-compatible engines against the documented behaviours of real local servers (llama-cpp-python,
llama-server, vLLM), through the real `openai` SDK and the loopback fake."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from pathlib import Path

import pytest

from parallax.cli import main
from parallax.config import ConfigError, load_config
from parallax.engines import openai_engine
from parallax.limits import Slots
from parallax.run.events import BranchQueued, BranchRetrying, BranchStarted
from parallax.run.execute import execute
from parallax.run.failures import TOO_LONG
from parallax.run.plan import plan_review, plan_translate
from parallax.translate.request import TranslationSettings
from tests.conftest import DOCUMENT, OPENAI_KEY, only, run
from tests.fakes.provider_server import DEFAULT_TRANSLATION, LLAMA_CPP_PYTHON_REJECTS, fault, ok, status

MODEL = "local-model"


@pytest.fixture(autouse=True)
def forget_learned_modes():
    openai_engine.LEARNED.clear()
    yield
    openai_engine.LEARNED.clear()


def local_config(fake, tmp_path: Path, **settings):  # type: ignore[no-untyped-def]
    lines = ["[engines.local]", f'base_url = "{fake.openai_url}"', f'model = "{MODEL}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path = tmp_path / "parallax.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path, env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url})


def chat_bodies(fake) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return [r["body"] for r in fake.requests if r["path"].endswith("/chat/completions")]


def form(body: dict) -> str:  # type: ignore[type-arg]
    if body.get("tools"):
        return "tool"
    return (body.get("response_format") or {}).get("type", "prompt")


# --- structured output modes ---


def test_json_schema_rejected_falls_back_to_json_object_once_and_remembers(fake, tmp_path):
    fake.rejects = {"json_schema"}
    config = local_config(fake, tmp_path)
    r = only(run(config, ["local"]))
    assert (r.status, r.score, r.structured_mode, r.retries) == ("ok", 7, "json_object", 0)
    # One rejected request (the SDK did not retry a form the server cannot do), then json_object with the schema.
    assert [form(b) for b in chat_bodies(fake)] == ["json_schema", "json_object"]
    sent = chat_bodies(fake)[1]
    assert sent["response_format"]["schema"]["required"] == ["summary", "strengths", "issues", "score", "confidence"]
    assert '"required"' in sent["messages"][0]["content"]  # the schema is in the prompt too
    # The next run (a new plan, new engine objects) goes straight to what worked.
    outcome = run(config, ["local"], perspectives=("technical", "business", "legal"))
    assert [r.structured_mode for r in outcome.ordered()] == ["json_object"] * 3
    assert [form(b) for b in chat_bodies(fake)][2:] == ["json_object"] * 3


def test_parallel_branches_find_the_mode_out_together(fake, tmp_path):
    # Each first call sends json_schema at once (none waits for another's reply); after that first rejection one
    # call tries the next modes for all: json_object's rejection is paid once, not once per branch.
    fake.rejects = {"json_schema", "json_object"}
    outcome = run(local_config(fake, tmp_path), ["local"], perspectives=("technical", "business", "legal"))
    assert [(r.status, r.structured_mode) for r in outcome.ordered()] == [("ok", "tool")] * 3
    sent = [form(b) for b in chat_bodies(fake)]
    assert 1 <= sent.count("json_schema") <= 3 and sent.count("json_object") == 1 and sent.count("tool") == 3


def test_tool_mode_reads_the_function_arguments(fake, tmp_path):
    fake.rejects = {"json_schema", "json_object"}
    r = only(run(local_config(fake, tmp_path), ["local"]))
    assert (r.status, r.score, r.structured_mode) == ("ok", 7, "tool")
    assert [form(b) for b in chat_bodies(fake)] == ["json_schema", "json_object", "tool"]
    assert chat_bodies(fake)[-1]["tool_choice"] == {"type": "function", "function": {"name": "judgement"}}


def test_prompt_mode_when_the_server_has_no_structured_output(fake, tmp_path):
    fake.rejects = {"json_schema", "json_object", "tools"}
    reply = "Here is my review:\n" + json.dumps({"summary": "Fine.", "strengths": [], "issues": [], "score": 6,
                                                 "confidence": 0.5}) + "\nHope this helps."
    fake.enqueue(MODEL, ok(reply))
    r = only(run(local_config(fake, tmp_path), ["local"]))
    assert (r.status, r.score, r.structured_mode) == ("ok", 6, "prompt")
    last = chat_bodies(fake)[-1]
    assert "response_format" not in last and "tools" not in last
    assert "JSON schema" in last["messages"][0]["content"]


def test_configured_mode_is_used_as_is_and_its_rejection_is_shown(fake, tmp_path):
    fake.rejects = {"json_schema"}
    r = only(run(local_config(fake, tmp_path, structured="json_schema"), ["local"]))
    assert r.status == "error"
    assert r.error.startswith("local: server error (HTTP 500) after 1 attempt: 1 validation error for "
                              "CreateChatCompletionRequest response_format.type Input should be 'text' or "
                              "'json_object'")
    assert len(chat_bodies(fake)) == 1  # not retried: it would fail the same way
    r = only(run(local_config(fake, tmp_path, structured="json_object"), ["local"]))
    assert (r.status, r.structured_mode) == ("ok", "json_object")
    assert form(chat_bodies(fake)[-1]) == "json_object"


def test_openai_keeps_json_schema_and_anthropic_says_tool(fake, config):
    outcome = run(config, ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"])
    assert [r.structured_mode for r in outcome.ordered()] == ["json_schema", "tool"]


def test_a_transient_server_error_is_still_retried(fake, tmp_path):
    fake.enqueue(MODEL, status(503, {"error": {"message": "loading model"}}, {"retry-after-ms": "5"}), ok())
    r = only(run(local_config(fake, tmp_path), ["local"]))
    assert (r.status, r.retries, r.structured_mode) == ("ok", 1, "json_schema")


def test_invalid_settings_are_named(fake, tmp_path):
    with pytest.raises(ConfigError, match="structured = 'xml'; use one of auto, json_schema"):
        local_config(fake, tmp_path, structured="xml")
    with pytest.raises(ConfigError, match="max_concurrency = 0: input should be greater than or equal to 1"):
        local_config(fake, tmp_path, max_concurrency=0)
    with pytest.raises(ConfigError, match="unknown setting 'max_concurency'; valid settings: base_url"):
        local_config(fake, tmp_path, max_concurency=1)
    with pytest.raises(ConfigError, match="price_input = '0.6': input should be a valid number"):
        local_config(fake, tmp_path, price_input="0.6")


# --- token limits ---


def test_named_engines_send_max_tokens_and_openai_max_completion_tokens(fake, tmp_path, config):
    fake.token_params = ("max_tokens",)
    only(run(local_config(fake, tmp_path), ["local"]))
    only(run(config, ["openai:gpt-4o-mini"]))
    local, cloud = chat_bodies(fake)
    assert local["max_tokens"] == 1500 and "max_completion_tokens" not in local
    assert cloud["max_completion_tokens"] == 1500 and "max_tokens" not in cloud


def test_a_limit_the_server_ignored_is_not_called_ours(fake, tmp_path):
    fake.token_params, fake.context_tokens = ("max_tokens",), 1600
    fake.enqueue(MODEL, ok("x" * 2000, chunks=2000))
    r = only(run(local_config(fake, tmp_path, token_limit_param="max_completion_tokens"), ["local"]))
    assert r.status == "truncated" and r.output_tokens == 1600
    assert r.error == ("local: cut off by the server after 1,600 tokens, past Parallax's limit of 1,500 (the server "
                       "ignored it: check token_limit_param)")
    fake.enqueue(MODEL, ok("x" * 2000, chunks=2000))
    r = only(run(local_config(fake, tmp_path), ["local"]))  # max_tokens: the server applies our limit
    assert (r.status, r.output_tokens, r.error) == ("truncated", 1500, "local: cut off at the token limit (1,500)")


# --- one request at a time ---


def slow_replies(fake, n: int) -> None:  # type: ignore[no-untyped-def]
    fake.enqueue(MODEL, *[ok(chunks=8, delay=0.05) for _ in range(n)])


def test_one_at_a_time_server_interrupts_parallel_streams_and_says_why(fake, tmp_path):
    fake.behave_like_llama_cpp_python()
    config = local_config(fake, tmp_path, structured="json_object")
    slow_replies(fake, 3)
    outcome = run(config, ["local"], perspectives=("technical", "business", "legal"))
    interrupted = [r for r in outcome.ordered() if r.status == "truncated"]
    assert interrupted and fake.interrupted == len(interrupted)
    assert "set max_concurrency = 1 in [engines.local]" in interrupted[0].error


def test_max_concurrency_one_against_llama_cpp_python(fake, tmp_path):
    """The issue's acceptance run: 3 perspectives on one named engine with max_concurrency = 1."""
    fake.behave_like_llama_cpp_python()
    config = local_config(fake, tmp_path, max_concurrency=1, price_input=0, price_output=0)
    slow_replies(fake, 4)  # the rejected first request takes no reply from the queue; each call ≈ 0.4 s
    events: list[object] = []
    plan = plan_review(DOCUMENT, config, ["technical", "business", "legal"], ["local"], timeout_s=0.9)
    started = time.monotonic()
    outcome = asyncio.run(execute(plan, lambda e, o: events.append(e)))
    elapsed = time.monotonic() - started
    results = outcome.ordered()
    assert [r.status for r in results] == ["ok"] * 3
    assert elapsed > 1.1  # three calls one after another: far more than the 0.9 s deadline of any one
    assert fake.interrupted == 0 and fake.max_active == 1
    assert [form(b) for b in chat_bodies(fake)] == ["json_schema", "json_object", "json_object", "json_object"]
    queued = sorted(r.queued_ms or 0 for r in results)
    assert queued[0] < 100 and queued[1] > 250 and queued[2] > 600  # waited for the slot, not on the clock
    assert all(r.latency_ms is not None and r.latency_ms < 900 for r in results)  # the deadline began at the call
    assert all(r.cost_usd == 0 for r in results)  # priced 0: free although the server sends no usage
    assert sum(isinstance(e, BranchQueued) for e in events) == 2
    # A card shows "queued" until its call starts: each branch starts only once it has its slot.
    starts = [e for e in events if isinstance(e, BranchStarted)]
    assert len(starts) == 3 and starts == sorted(starts, key=lambda e: e.at_s)


def test_translate_and_judge_share_the_one_slot(fake, tmp_path):
    fake.behave_like_llama_cpp_python()
    config = local_config(fake, tmp_path, max_concurrency=1)
    mqm = json.dumps({"translations": [{"label": "A", "errors": []}]})
    fake.enqueue(MODEL, ok(DEFAULT_TRANSLATION, chunks=4, delay=0.02), ok(mqm, chunks=4, delay=0.02),
                 ok(mqm, chunks=4, delay=0.02))
    plan = plan_translate("The dog runs fast.", config, TranslationSettings("en", "de", judge="local",
                                                                            judge_samples=2), ["local"])
    (r,) = asyncio.run(execute(plan)).ordered()
    assert (r.status, r.text, r.judge_score, r.judge_error) == ("ok", DEFAULT_TRANSLATION, 100.0, None)
    assert fake.max_active == 1 and fake.interrupted == 0
    translation = chat_bodies(fake)[0]
    assert "response_format" not in translation and translation["max_tokens"]  # plain text: no structured mode


def test_provider_concurrency_limit(fake, tmp_path):
    path = tmp_path / "parallax.toml"
    path.write_text("[providers.openai]\nmax_concurrency = 2\n", encoding="utf-8")
    config = load_config(path, env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url})
    for m in "abcde":
        fake.enqueue(m, ok(chunks=5, delay=0.03))
    outcome = run(config, [f"openai:{m}" for m in "abcde"])
    assert [r.status for r in outcome.ordered()] == ["ok"] * 5
    assert fake.max_active == 2


def test_slots_are_shared_across_event_loops_and_survive_cancellation():
    slots = Slots(1)
    holders, most = [0], [0]
    lock = threading.Lock()

    async def use() -> None:
        async with slots.hold():
            with lock:
                holders[0] += 1
                most[0] = max(most[0], holders[0])
            try:
                await asyncio.sleep(0.02)
            finally:
                with lock:
                    holders[0] -= 1

    async def many() -> None:
        waiting = asyncio.ensure_future(use())
        await asyncio.sleep(0)
        waiting.cancel()  # a waiter that leaves must not take a slot with it
        await asyncio.gather(*(use() for _ in range(5)), waiting, return_exceptions=True)

    threads = [threading.Thread(target=asyncio.run, args=(many(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 1 and not slots.busy


# --- honest errors ---


@pytest.mark.parametrize("reply", [
    fault("error_line", after=2, message="the request exceeds the available context size, try increasing it"),
    fault("error_event", after=2, message="Requested tokens (5000) exceed context window of 4096"),
])
def test_context_overflow_inside_the_stream_goes_to_the_chunk_fallback(fake, tmp_path, reply):
    fake.enqueue(MODEL, reply)
    r = only(run(local_config(fake, tmp_path), ["local"]))
    assert r.status == "ok", r.error
    assert r.text.startswith("(the whole text was too long for the model: reviewed in")
    assert r.score == 7


def test_other_errors_inside_the_stream_are_shown(fake, tmp_path):
    fake.enqueue(MODEL, fault("error_line", after=1, message="slot unavailable"))
    r = only(run(local_config(fake, tmp_path), ["local"]))
    assert r.status == "error" and r.error == "local: the stream reported an error: slot unavailable"
    assert TOO_LONG not in r.error


def test_priced_engine_without_usage_stays_unknown(fake, tmp_path):
    fake.send_usage = False
    r = only(run(local_config(fake, tmp_path, price_input=0.1, price_output=0.2), ["local"]))
    assert r.status == "ok" and r.cost_usd is None and r.output_tokens is None


def test_retries_are_reported_while_they_happen(fake, tmp_path):
    limited = status(429, {"error": {"message": "busy"}}, {"retry-after-ms": "5"})
    fake.enqueue(MODEL, limited, limited, ok())
    events: list[object] = []
    plan = plan_review(DOCUMENT, local_config(fake, tmp_path), ["technical"], ["local"])
    (r,) = asyncio.run(execute(plan, lambda e, o: events.append(e))).ordered()
    assert (r.status, r.retries) == ("ok", 2)
    assert [e.retry for e in events if isinstance(e, BranchRetrying)] == [1, 2]


# --- engines --check ---


def test_engines_list_and_check(fake, tmp_path, monkeypatch):
    fake.behave_like_llama_cpp_python()
    local_config(fake, tmp_path, max_concurrency=1)
    monkeypatch.setenv("PARALLAX_CONFIG", str(tmp_path / "parallax.toml"))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPL_AUTH_KEY", "LIBRETRANSLATE_URL"):
        monkeypatch.delenv(name, raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(["engines"], out=out, err=err) == 0
    listing = out.getvalue()
    assert "local" in listing and fake.openai_url in listing and "max_concurrency 1" in listing
    assert "offline:rules" in listing
    assert fake.calls() == 0  # listing calls nothing
    out = io.StringIO()
    assert main(["engines", "--check", "local", "offline:rules"], out=out, err=err) == 0
    lines = out.getvalue().splitlines()
    local = next(line for line in lines if line.startswith("local"))
    assert local.split()[:3] == ["local", "ok", "json_object"]
    assert next(line for line in lines if line.startswith("offline:rules")).split()[1] == "ok"
    out = io.StringIO()
    assert main(["engines", "--check", "nope"], out=out, err=err) == 1
    assert "unknown engine 'nope'" in out.getvalue()


def test_check_shows_the_server_message_when_nothing_works(fake, tmp_path, monkeypatch):
    local_config(fake, tmp_path, structured="json_schema")
    fake.rejects = {"json_schema"}
    monkeypatch.setenv("PARALLAX_CONFIG", str(tmp_path / "parallax.toml"))
    out = io.StringIO()
    assert main(["engines", "--check", "local"], out=out, err=io.StringIO()) == 1
    assert "Input should be 'text' or 'json_object'" in out.getvalue()
    assert LLAMA_CPP_PYTHON_REJECTS.split("\n")[0] in out.getvalue()
