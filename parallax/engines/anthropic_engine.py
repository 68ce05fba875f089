"""Anthropic Messages streaming; structured output through a forced tool call."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from parallax.engines.base import (
    EXPIRED,
    BatchState,
    Clients,
    Event,
    Finish,
    Outcome,
    Request,
    Structured,
    Usage,
    connection_limits,
    count_attempt,
    ssl_context,
)
from parallax.limits import Slots

# Anthropic's error types and the HTTP status each stands for (an errored request of a batch gives only the type).
_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                 "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                 "overloaded_error": 529}


class AnthropicEngine:
    provider = "Anthropic"
    free = False
    kinds = frozenset({"review", "translate", "judge"})
    streams = True

    def __init__(self, engine_id: str, model: str, *, api_key: str, base_url: str | None = None,
                 slots: Slots | None = None) -> None:
        import anthropic  # imported lazily: a missing SDK disables only this engine

        self.engine_id, self.model, self.slots = engine_id, model, slots
        self._clients = Clients(lambda: anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            http_client=anthropic.DefaultAsyncHttpxClient(limits=connection_limits(), verify=ssl_context(),
                                                          event_hooks={"request": [count_attempt]}),
        ))

    @property
    def _client(self) -> Any:
        return self._clients.first

    def params(self, request: Request, mode: str | None = None) -> dict[str, Any]:
        """The body of a request (structured output through a forced tool): for a call, or a provider batch."""
        params: dict[str, Any] = {
            "model": self.model, "system": request.system, "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.schema is not None:
            params["tools"] = [{"name": request.schema_name, "description": "Submit the structured result.",
                                "input_schema": request.schema}]
            params["tool_choice"] = {"type": "tool", "name": request.schema_name}
        return params

    @staticmethod
    def batch_mode(request: Request) -> str | None:
        return None if request.schema is None else "tool"

    @staticmethod
    def reply_events(data: Any) -> list[Event]:
        return _reply_events(data)

    # --- Message Batches: up to 100,000 requests answered within 24 hours at half the price ---

    async def submit_batch(self, items: list[tuple[str, dict[str, Any]]]) -> str:
        requests: Any = [{"custom_id": custom_id, "params": params} for custom_id, params in items]
        batch = await self._client.messages.batches.create(requests=requests)
        return batch.id

    async def batch_state(self, batch_id: str) -> BatchState:
        batch = await self._client.messages.batches.retrieve(batch_id)
        c = batch.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        return BatchState(batch.processing_status, batch.processing_status == "ended", total, c.succeeded,
                          c.errored + c.canceled + c.expired)

    async def batch_results(self, batch_id: str) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        async for item in await self._client.messages.batches.results(batch_id):
            result = item.result
            if result.type == "succeeded":
                outcomes[item.custom_id] = Outcome(reply=result.message.model_dump(mode="json"))
            elif result.type == "errored":
                error = result.error.error
                outcomes[item.custom_id] = Outcome(error=error.message, status_code=_ERROR_STATUS.get(error.type))
            elif result.type == "expired":
                outcomes[item.custom_id] = Outcome(error=EXPIRED)
            else:
                outcomes[item.custom_id] = Outcome(error="cancelled with the batch")
        return outcomes

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        with self._clients.one() as client:
            async with contextlib.aclosing(self._stream(client, request)) as events:
                async for event in events:
                    yield event

    async def _stream(self, client: Any, request: Request) -> AsyncGenerator[Event, None]:
        params = self.params(request)
        if not request.streamed:  # the whole reply, read once (the SDK still does auth, retries and errors)
            raw = await client.messages.with_raw_response.create(**params)
            if request.schema is not None:
                yield Structured("tool")
            for event in _reply_events(raw.http_response.json()):
                yield event
            return
        # The SDK's overloads cannot see stream=True through **params; the events are read by their `type`.
        stream: Any = await client.messages.create(**params, stream=True)
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
