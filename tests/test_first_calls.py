"""The first calls to an engine whose structured-output mode is not known yet (`structured` unset: auto) go to the
server at once, over the real SDKs and the loopback fake, whichever wire format, streamed or whole, and across
the event loops the app runs its runs on. The fake holds each call until N are there together (`fake.hold`): a
test sees the overlap itself, not a timing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from parallax.config import Config, load_config
from parallax.engines import openai_engine
from parallax.engines.base import Message, Request, Structured, Task
from parallax.engines.registry import resolve_engine
from parallax.perspectives import Perspective
from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY, run
from tests.fakes.provider_server import FakeProviders, status

N = 8
MODEL = "local-model"
REQUEST = Request("Review the document.", (Message("user", "<document>\nText.\n</document>"),),
                  Task("review", "Text."), schema={"type": "object", "properties": {"score": {"type": "number"}}})


@pytest.fixture(autouse=True)
def forget_learned_modes():  # type: ignore[no-untyped-def]
    openai_engine.LEARNED.clear()
    yield
    openai_engine.LEARNED.clear()


def configured(fake: FakeProviders, tmp_path: Path) -> Config:
    """The cloud engines through their base URLs, and a named OpenAI-compatible engine, none of them with
    `structured` set (as users have them)."""
    path = tmp_path / "parallax.toml"
    path.write_text(f'[engines.local]\nbase_url = "{fake.openai_url}"\nmodel = "{MODEL}"\n', encoding="utf-8")
    return load_config(path, env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.openai_url,
                                  "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": fake.anthropic_url})


def perspectives(config: Config, n: int = N) -> list[str]:
    names = [f"reader{i}" for i in range(n)]
    for name in names:
        config.perspectives[name] = Perspective(name, f"what {name} needs", "- It is clear.")
    return names


def form(body: dict[str, Any]) -> str:
    if body.get("tools"):
        return "tool"
    return str((body.get("response_format") or {}).get("type", "prompt"))


def forms(fake: FakeProviders) -> list[str]:
    return [form(r["body"]) for r in fake.requests if r["path"].endswith("/chat/completions")]


def first_calls(config: Config, engine_id: str, n: int, streamed: bool, loops: int = 1) -> list[str]:
    """n first calls, split over `loops` event loops in as many threads, each with its own engine object (as each
    run of the app has); the structured mode each call says it used."""
    request = Request(REQUEST.system, REQUEST.messages, REQUEST.task, REQUEST.schema, streamed=streamed)
    modes: list[str] = []
    errors: list[BaseException] = []

    async def one(engine: Any) -> None:
        async for event in engine.stream(request):
            if isinstance(event, Structured):
                modes.append(event.mode)

    async def some(k: int) -> None:
        engine = resolve_engine(engine_id, config)  # an SDK client belongs to one event loop
        for outcome in await asyncio.gather(*(one(engine) for _ in range(k)), return_exceptions=True):
            if isinstance(outcome, BaseException):
                errors.append(outcome)

    threads = [threading.Thread(target=asyncio.run, args=(some(n // loops),)) for _ in range(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return modes


# --- every first call at the server at once ---


@pytest.mark.parametrize("engine,mode", [("openai:m", "json_schema"), ("local", "json_schema"),
                                         ("anthropic:m", "tool")])
def test_the_first_branches_of_a_run_all_reach_the_server_at_once(fake, tmp_path, engine, mode):
    config = configured(fake, tmp_path)
    fake.hold(N)
    outcome = run(config, [engine], perspectives=perspectives(config))
    assert [r.status for r in outcome.ordered()] == ["ok"] * N
    assert [r.structured_mode for r in outcome.ordered()] == [mode] * N
    assert not fake.held_in_vain and fake.max_active == N  # all N calls were at the server together


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("engine,mode", [("openai:m", "json_schema"), ("anthropic:m", "tool")])
def test_first_calls_overlap_streamed_or_whole(fake, tmp_path, engine, mode, streamed):
    fake.hold(N)
    assert first_calls(configured(fake, tmp_path), engine, N, streamed) == [mode] * N
    assert not fake.held_in_vain and fake.max_active == N
    assert fake.calls() == N  # one request each: nothing probed first


def test_first_calls_on_several_event_loops_overlap(fake, tmp_path):
    fake.hold(N)
    assert first_calls(configured(fake, tmp_path), "local", N, True, loops=2) == ["json_schema"] * N
    assert not fake.held_in_vain and fake.max_active == N


# --- a server that rejects the preferred mode: the fallback is found once, the calls still overlap ---


def test_a_rejected_json_schema_is_learned_once_and_the_branches_still_overlap(fake, tmp_path):
    fake.rejects = {"json_schema"}
    config = configured(fake, tmp_path)
    # The N rejected calls at once, then the N json_object calls at once: the first of them is the one that
    # finds json_object works, at its headers (the others wait for that).
    fake.hold(N, streams_after_headers=True)
    outcome = run(config, ["local"], perspectives=perspectives(config))
    assert [r.status for r in outcome.ordered()] == ["ok"] * N
    assert [r.structured_mode for r in outcome.ordered()] == ["json_object"] * N
    assert not fake.held_in_vain and fake.max_active == N
    assert forms(fake) == ["json_schema"] * N + ["json_object"] * N  # every call rejected once, all before a retry
    assert openai_engine.LEARNED == {(fake.openai_url, MODEL): "json_object"}
    outcome = run(config, ["local"], perspectives=perspectives(config, 3))  # the next run goes straight to it
    assert forms(fake)[2 * N:] == ["json_object"] * 3


def test_modes_past_the_first_are_tried_by_one_call_for_all(fake, tmp_path):
    fake.rejects = {"json_schema", "json_object"}
    # Hold the rejected first wave and the final wave; the one json_object call goes through alone.
    fake.hold(N, when=lambda body: form(body) != "json_object", streams_after_headers=True)
    assert first_calls(configured(fake, tmp_path), "local", N, True, loops=2) == ["tool"] * N
    assert not fake.held_in_vain and fake.max_active == N
    sent = forms(fake)
    assert sent[:N] == ["json_schema"] * N
    assert sent[N:] == ["json_object"] + ["tool"] * N  # json_object's rejection paid once, not once per call


def test_whole_replies_learn_a_rejected_mode_once(fake, tmp_path):
    fake.rejects = {"json_schema"}
    fake.hold(N, when=lambda body: form(body) == "json_schema")
    assert first_calls(configured(fake, tmp_path), "local", N, False) == ["json_object"] * N
    assert not fake.held_in_vain and fake.max_active == N
    assert forms(fake) == ["json_schema"] * N + ["json_object"] * N


def test_a_call_that_fails_while_finding_the_mode_does_not_strand_the_others(fake, tmp_path):
    fake.rejects = {"json_schema"}
    fake.enqueue(MODEL, status(400, {"error": {"message": "the request is invalid"}}))  # the first json_object call
    config = configured(fake, tmp_path)
    fake.hold(N, when=lambda body: form(body) == "json_schema")
    outcome = run(config, ["local"], perspectives=perspectives(config))
    assert sorted(r.status for r in outcome.ordered()) == ["error"] + ["ok"] * (N - 1)
    assert not fake.held_in_vain
    assert forms(fake) == ["json_schema"] * N + ["json_object"] * N
    assert openai_engine.LEARNED == {(fake.openai_url, MODEL): "json_object"}


# --- the primitive the waiting calls use ---


def test_a_latch_wakes_waiters_on_every_loop_and_forgets_a_cancelled_one():
    from parallax.limits import Latch

    latch = Latch()
    waiting = threading.Barrier(3)
    woken: list[str] = []

    async def wait(name: str) -> None:
        gone = asyncio.ensure_future(latch.wait())
        await asyncio.sleep(0)
        gone.cancel()  # a waiter that leaves must not keep the others from waking
        with pytest.raises(asyncio.CancelledError):
            await gone
        task = asyncio.ensure_future(latch.wait())
        await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, waiting.wait, 5)
        await task
        woken.append(name)

    threads = [threading.Thread(target=asyncio.run, args=(wait(f"loop{i}"),)) for i in range(2)]
    for thread in threads:
        thread.start()
    waiting.wait(5)  # both loops are waiting
    latch.open()
    for thread in threads:
        thread.join(5)
    assert sorted(woken) == ["loop0", "loop1"]
    assert not latch._waiters  # the cancelled waiters left nothing behind
    asyncio.run(latch.wait())  # once set, it stays set
