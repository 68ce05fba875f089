"""The engines' SSE readers on their own (OpenAI's, and Anthropic's below): the lines of one network read are
handled together (their texts as one delta, their JSON parsed in one go), whatever the reads' boundaries, and a
fault keeps what came before it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from parallax.engines import anthropic_engine
from parallax.engines.base import Event, Finish, StreamError, Usage
from parallax.engines.openai_engine import _read_events


class Reads:
    """An HTTP response whose body arrives in the given pieces (one per network read)."""

    def __init__(self, *pieces: str) -> None:
        self.pieces = pieces

    async def aiter_text(self) -> AsyncIterator[str]:
        for piece in self.pieces:
            yield piece


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> str:
    delta = {"content": content} if content is not None else {}
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})


def read(*pieces: str, reader: Any = _read_events) -> tuple[list[Event], BaseException | None]:
    events: list[Event] = []

    async def go() -> None:
        async for event in reader(Reads(*pieces)):
            events.append(event)

    try:
        asyncio.run(go())
    except Exception as exc:  # noqa: BLE001 - returned for the test to look at
        return events, exc
    return events, None


WHOLE = "\n\n".join([chunk("Hel"), chunk("lo"), chunk(finish="stop"),
                     "data: " + json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
                     "data: [DONE]"]) + "\n\n"


def test_one_read_gives_one_text_then_the_markers():
    assert read(WHOLE) == (["Hello", Finish("stop"), Usage(3, 2)], None)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_the_same_events_whatever_the_reads_boundaries_and_line_ends(newline):
    body = WHOLE.replace("\n", newline)
    for size in (1, 2, 3, 7, 50):
        events, fault = read(*(body[i:i + size] for i in range(0, len(body), size)))
        assert fault is None and "".join(e for e in events if isinstance(e, str)) == "Hello"
        assert [e for e in events if not isinstance(e, str)] == [Finish("stop"), Usage(3, 2)], (newline, size)


def test_a_data_field_on_several_lines_and_a_last_event_without_its_blank_line():
    payload = json.dumps({"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}, indent=1)
    body = "\n".join("data: " + line for line in payload.splitlines()) + "\n\n" + chunk("b", "length")
    # The last event is complete only once the body has ended: it comes on its own.
    assert read(body) == (["a", "b", Finish("length")], None)


def test_a_bad_chunk_keeps_the_text_before_it_in_the_same_read():
    events, fault = read(chunk("kept") + "\n\ndata: {not json\n\n" + chunk("lost") + "\n\n")
    assert events == ["kept"] and isinstance(fault, json.JSONDecodeError)


@pytest.mark.parametrize("error", [
    'error: {"code": 400, "message": "slot unavailable"}',  # llama-server
    'data: {"error": {"message": "slot unavailable"}}',
    'event: error\ndata: {"message": "slot unavailable"}',
])
def test_an_error_in_the_stream_comes_after_the_text_before_it(error):
    events, fault = read(chunk("kept") + "\n\n" + error + "\n\n" + chunk("lost") + "\n\n")
    assert events == ["kept"] and isinstance(fault, StreamError) and str(fault) == "slot unavailable"


def test_a_tool_call_streams_its_arguments():
    call = {"index": 0, "id": "c", "type": "function", "function": {"name": "judgement", "arguments": '{"a"'}}
    body = "data: " + json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]})
    assert read(body + "\n\n" + chunk(": 1}", "tool_calls") + "\n\ndata: [DONE]\n\n") == (['{"a": 1}', Finish("stop")],
                                                                                          None)


# --- Anthropic Messages ---


def message(*deltas: str, stop: str = "end_turn", final: bool = True) -> str:
    def event(name: str, **data: Any) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    body = event("message_start", message={"usage": {"input_tokens": 9, "output_tokens": 1}})
    body += event("content_block_start", index=0, content_block={"type": "text", "text": ""}) + event("ping")
    body += "".join(event("content_block_delta", index=0, delta={"type": "text_delta", "text": d}) for d in deltas)
    body += event("content_block_stop", index=0)
    body += event("message_delta", delta={"stop_reason": stop}, usage={"output_tokens": 4})
    return body + (event("message_stop") if final else "")


def read_anthropic(*pieces: str) -> tuple[list[Event], BaseException | None]:
    return read(*pieces, reader=anthropic_engine._read_events)


def test_anthropic_events_of_one_read_come_as_one_text_then_usage_and_finish():
    assert read_anthropic(message("Hel", "lo")) == (["Hello", Usage(9, 4), Finish("stop")], None)
    body = message("Hel", "lo", stop="max_tokens")
    events, fault = read_anthropic(*(body[i:i + 5] for i in range(0, len(body), 5)))
    assert fault is None and "".join(e for e in events if isinstance(e, str)) == "Hello"
    assert [e for e in events if not isinstance(e, str)] == [Usage(9, 4), Finish("length")]


def test_anthropic_without_message_stop_has_no_finish():
    assert read_anthropic(message("Hi", final=False)) == (["Hi", Usage(9, 4)], None)


def test_anthropic_error_event_keeps_the_text_before_it():
    error = 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    events, fault = read_anthropic(message("kept", final=False).split("event: message_delta")[0] + error)
    assert events == ["kept"] and isinstance(fault, StreamError) and str(fault) == "Overloaded"
