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
    Engine,
    Event,
    Finish,
    Outcome,
    Request,
    StreamError,
    Structured,
    Usage,
    connection_limits,
    count_attempt,
    ssl_context,
)
from parallax.engines.sse import ERROR_FIELD, drain, event_batches, parsed
from parallax.limits import Slots

DRAIN_S = 2.0  # the longest wait for a stream's end after message_stop

# Anthropic's error types and the HTTP status each stands for (an errored request of a batch gives only the type).
_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                 "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                 "overloaded_error": 529}


class AnthropicEngine(Engine):
    provider = "Anthropic"
    free = False
    kinds = frozenset({"review", "translate", "judge"})
    streams = True
    batch_api = True  # Message Batches

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
        if request.temperature is not None:
            params["temperature"] = request.temperature
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
        import httpx2

        params = self.params(request)
        if not request.streamed:  # the whole reply, read once (the SDK still does auth, retries and errors)
            raw = await client.messages.with_raw_response.create(**params)
            if request.schema is not None:
                yield Structured("tool")
            for event in _reply_events(raw.http_response.json()):
                yield event
            return
        # Sent by the SDK's client (auth, retries, HTTP errors); the events are read here, read by read (sse.py):
        # the SDK would build an object per event.
        response = await client.post("/v1/messages", cast_to=httpx2.Response, stream=True,
                                     content=json.dumps({**params, "stream": True}, ensure_ascii=False).encode(),
                                     options={"headers": {"Content-Type": "application/json"}})
        try:
            if request.schema is not None:
                yield Structured("tool")
            async for event in _read_events(response):
                yield event
        finally:
            await response.aclose()


async def _read_events(http: Any) -> AsyncIterator[Event]:
    """Messages events → text (or the tool's input as it is written), usage, and a finish only at message_stop:
    a stream that ends without it is incomplete. An `error` event (overloaded mid-stream) is a StreamError."""
    input_tokens: int | None = None
    stop_reason: str | None = None
    batches = event_batches(http)
    async for batch in batches:
        found = parsed([data for _, data in batch])
        events: list[Event] = []
        text: list[str] = []
        stopped = False
        try:
            for i, (name, data) in enumerate(batch):
                event = found[i] if found is not None else json.loads(data)
                if not isinstance(event, dict):
                    raise StreamError("the stream contained malformed data")
                kind = event.get("type")
                if kind == "content_block_delta":
                    delta = event.get("delta") or {}
                    piece = delta.get("text") if delta.get("type") == "text_delta" else (
                        delta.get("partial_json") if delta.get("type") == "input_json_delta" else None)
                    if piece:
                        text.append(piece)
                    continue
                if name in ("error", ERROR_FIELD) or kind == "error":
                    error = event.get("error")
                    raise StreamError(str(error.get("message") or error) if isinstance(error, dict) else str(event))
                if kind == "message_start":
                    input_tokens = ((event.get("message") or {}).get("usage") or {}).get("input_tokens")
                elif kind == "message_delta":
                    if text:
                        events.append("".join(text))
                        text.clear()
                    stop_reason = (event.get("delta") or {}).get("stop_reason")
                    events.append(Usage(input_tokens, (event.get("usage") or {}).get("output_tokens")))
                elif kind == "message_stop":
                    stopped = True
                    break
        except Exception:
            if text:
                events.append("".join(text))
            for event in events:  # what arrived before the fault is kept
                yield event
            raise
        if text:
            events.append("".join(text))
        if stopped:
            events.append(Finish("length" if stop_reason == "max_tokens" else "stop"))
        for event in events:
            yield event
        if stopped:
            await drain(batches, DRAIN_S)
            return


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
