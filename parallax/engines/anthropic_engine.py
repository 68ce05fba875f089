"""Anthropic Messages streaming; structured output through a forced tool call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from .base import Event, Finish, Request, Structured, Usage, count_attempt
from .slots import Slots


class AnthropicEngine:
    provider = "Anthropic"
    free = False
    kinds = frozenset({"review", "translate", "judge"})
    streams = True

    def __init__(self, engine_id: str, model: str, *, api_key: str, base_url: str | None = None,
                 slots: Slots | None = None) -> None:
        import anthropic  # imported lazily: a missing SDK disables only this engine

        self.engine_id, self.model, self.slots = engine_id, model, slots
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks={"request": [count_attempt]}),
        )

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        params: dict[str, Any] = {
            "model": self.model, "system": request.system, "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.schema is not None:
            params["tools"] = [{"name": request.schema_name, "description": "Submit the structured result.",
                                "input_schema": request.schema}]
            params["tool_choice"] = {"type": "tool", "name": request.schema_name}
        if not request.streamed:  # the whole reply, read once (the SDK still does auth, retries and errors)
            raw = await self._client.messages.with_raw_response.create(**params)
            if request.schema is not None:
                yield Structured("tool")
            for event in _reply_events(raw.http_response.json()):
                yield event
            return
        # The SDK's overloads cannot see stream=True through **params; the events are read by their `type`.
        stream: Any = await self._client.messages.create(**params, stream=True)
        if request.schema is not None:
            yield Structured("tool")
        input_tokens: int | None = None
        stop_reason: str | None = None
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    input_tokens = event.message.usage.input_tokens
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        yield delta.text
                    elif delta.type == "input_json_delta":
                        yield delta.partial_json
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason
                    yield Usage(input_tokens, event.usage.output_tokens)
                elif event.type == "message_stop":
                    # Only a stream that reached message_stop is complete.
                    yield Finish("length" if stop_reason == "max_tokens" else "stop")


def _reply_events(data: Any) -> list[Event]:
    """A whole Messages reply (JSON) → the same events a stream gives: text (or the tool's input), usage, finish."""
    events: list[Event] = []
    for block in data.get("content") or ():
        if block.get("type") == "text" and block.get("text"):
            events.append(block["text"])
        elif block.get("type") == "tool_use":
            events.append(json.dumps(block.get("input") or {}, ensure_ascii=False))
    usage = data.get("usage") or {}
    events.append(Usage(usage.get("input_tokens"), usage.get("output_tokens")))
    events.append(Finish("length" if data.get("stop_reason") == "max_tokens" else "stop"))
    return events
