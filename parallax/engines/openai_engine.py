"""OpenAI Chat Completions streaming — also every OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp).

The SDK sends the request (auth, retries, HTTP errors); the stream is read here, read by read (sse.py): no object
per chunk, and errors a server reports inside the stream (`data: {"error": …}`, vLLM's `{"object": "error"}`,
llama-server's `error: …` lines, which an SSE client would drop) are seen.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any, Final

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
    new_request,
    ssl_context,
)
from parallax.engines.sse import ERROR_FIELD, drain, event_batches, parsed
from parallax.limits import Latch, Slots

# How structured output is asked for, in the order they are tried when the server's support is unknown.
MODES = ("json_schema", "json_object", "tool", "prompt")
BATCH_ENDPOINT: Final = "/v1/chat/completions"
BATCH_ENDED = ("completed", "failed", "expired", "cancelled")
DRAIN_S = 2.0  # the longest wait for a stream's end after `[DONE]`
# What worked per (server, model), for the rest of the process: later calls go straight to it.
LEARNED: dict[tuple[str, str], str] = {}
# While it is being found out: the modes the server rejected, and the call trying the next ones for all.
_REJECTED: dict[tuple[str, str], set[str]] = {}
_TRYING: dict[tuple[str, str], Latch] = {}
_DISCOVERY_LOCK = threading.Lock()
# A 4xx/5xx that names the structured-output request form: the server cannot do that mode.
_NAMES_STRUCTURED = re.compile(
    r"response_format|json_schema|json_object|tool_choice|\btools?\b|function.?call|structured output|guided_json",
    re.I,
)
_NOT_ABOUT_THE_FORM = {401, 403, 404, 408, 409, 429}


def names_structured(status: int, message: str) -> bool:
    return 400 <= status < 600 and status not in _NOT_ABOUT_THE_FORM and bool(_NAMES_STRUCTURED.search(message))


async def _no_retry_of_a_rejected_form(response: Any) -> None:
    """A server that rejects the structured-output form will reject it again: tell the SDK not to retry it."""
    if response.status_code < 400 or response.status_code in _NOT_ABOUT_THE_FORM:
        return
    sent = response.request.content or b""
    if b'"response_format"' not in sent and b'"tools"' not in sent:
        return
    await response.aread()
    if names_structured(response.status_code, response.text):
        response.headers["x-should-retry"] = "false"


def schema_instructions(request: Request) -> str:
    return ("\n\nAnswer with only a JSON object that matches this JSON schema, no other text:\n"
            + json.dumps(request.schema, ensure_ascii=False))


# Reasoning models accept only their default temperature (a 400 error otherwise).
_FIXED_TEMPERATURE = re.compile(r"(o\d|gpt-5)")


class OpenAIEngine(Engine):
    free = False
    kinds = frozenset({"review", "translate", "judge"})
    streams = True

    def __init__(
        self,
        engine_id: str,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        provider: str = "OpenAI",
        usage_in_stream: bool = True,
        token_param: str = "max_completion_tokens",
        structured: str = "auto",
        slots: Slots | None = None,
        interrupted_hint: str = "",
    ) -> None:
        import openai  # imported lazily: a missing SDK disables only this engine

        if "httpx" in sys.modules:
            # The SDK looks the legacy httpx up in sys.modules; the app's warm-up thread may be importing it right
            # now (a half-initialised module: "no attribute 'Timeout'"). Importing it here waits for that import.
            import httpx  # noqa: F401

        self.engine_id, self.model, self.provider = engine_id, model, provider
        self.batch_api = engine_id.startswith("openai:")  # OpenAI's Batch API; other servers of its API have none
        self.structured, self.token_param, self.slots = structured, token_param, slots
        self.interrupted_hint = interrupted_hint
        self._usage_in_stream = usage_in_stream
        self._server = (base_url or "https://api.openai.com/v1", model)
        self._clients = Clients(lambda: openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            http_client=openai.DefaultAsyncHttpxClient(
                limits=connection_limits(), verify=ssl_context(),
                event_hooks={"request": [count_attempt], "response": [_no_retry_of_a_rejected_form]}
            ),
        ))

    @property
    def _client(self) -> Any:
        return self._clients.first

    @property
    def known_mode(self) -> str | None:
        """The structured mode this engine will use, if it is settled (configured or learned)."""
        return self.structured if self.structured != "auto" else LEARNED.get(self._server)

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        with self._clients.one() as client:
            response, mode = await self._open(request, client)
            if mode is not None:
                yield Structured(mode)
            if not request.streamed:  # the whole reply, read once (the SDK still does auth, retries and errors)
                for event in _reply_events(response.json()):
                    yield event
                return
            try:
                async for event in _read_events(response):
                    yield event
            finally:
                await response.aclose()

    async def _open(self, request: Request, client: Any) -> tuple[Any, str | None]:
        """Send the request in the structured mode the server supports, finding it out on first use."""
        if request.schema is None:
            return await self._create(client, request, None), None
        if (mode := self.known_mode) is not None:
            return await self._create(client, request, mode), mode
        return await self._discover(client, request)

    async def _discover(self, client: Any, request: Request) -> tuple[Any, str]:
        """The request in the first mode this server and model have not rejected, the mode learned on success.

        Every first call sends the preferred mode at once: a server that takes it (the cloud API, vLLM,
        llama-server, Ollama) costs nothing more, and no call waits on another's whole request. Once the server
        has rejected a mode, one call tries the next ones for all: the others (rejected at the same time, or
        starting meanwhile) wait for what it finds out, then go at once. A rejection is learned once; a mode is
        never tried again after it was rejected. The state is shared by every run of the process, whatever
        its event loop."""
        server = self._server
        trying: Latch | None = None  # while this call tries the next modes for everyone
        try:
            while True:
                wait: Latch | None = None
                with _DISCOVERY_LOCK:
                    mode = learned = LEARNED.get(server)
                    if mode is None:
                        rejected = _REJECTED.get(server, set())
                        mode = next(m for m in MODES if m not in rejected)
                        if rejected and trying is None and (wait := _TRYING.get(server)) is None:
                            trying = _TRYING[server] = Latch()
                if wait is not None:
                    await wait.wait()
                    continue
                try:
                    response = await self._create(client, request, mode)
                except Exception as exc:
                    # A learned mode that fails is this request's failure, not something to learn from.
                    if learned is not None or mode == MODES[-1] or not _rejects_form(exc):
                        raise
                    with _DISCOVERY_LOCK:
                        _REJECTED.setdefault(server, set()).add(mode)
                    new_request()  # the next mode is a different request, not a retry
                    continue
                with _DISCOVERY_LOCK:
                    LEARNED.setdefault(server, mode)
                    _REJECTED.pop(server, None)
                return response, mode
        finally:
            if trying is not None:  # found, or failed (an error, a cancellation): the waiters go on either way
                with _DISCOVERY_LOCK:
                    if _TRYING.get(server) is trying:
                        del _TRYING[server]
                trying.open()

    def params(self, request: Request, mode: str | None) -> dict[str, Any]:
        """The body of a whole-reply request in structured `mode` (None: no schema): what `_create` sends, and
        one line of a provider batch."""
        system = request.system
        params: dict[str, Any] = {"model": self.model, self.token_param: request.max_tokens}
        if request.temperature is not None and not _FIXED_TEMPERATURE.match(self.model):
            params["temperature"] = request.temperature
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
            }
        elif mode == "json_object":
            params["response_format"] = {"type": "json_object", "schema": request.schema}
            system += schema_instructions(request)
        elif mode == "tool":
            params["tools"] = [{"type": "function", "function": {
                "name": request.schema_name, "description": "Submit the structured result.",
                "parameters": request.schema}}]
            params["tool_choice"] = {"type": "function", "function": {"name": request.schema_name}}
        elif mode == "prompt":
            system += schema_instructions(request)
        params["messages"] = [{"role": "system", "content": system},
                              *({"role": m.role, "content": m.content} for m in request.messages)]
        return params

    def batch_mode(self, request: Request) -> str | None:
        """The structured mode a provider batch uses (nothing can be tried and learned inside a batch)."""
        return None if request.schema is None else (self.known_mode or MODES[0])

    @staticmethod
    def reply_events(data: Any) -> list[Event]:
        return _reply_events(data)

    # --- the OpenAI Batch API: a JSONL file of requests, answered within 24 hours at half the price ---

    async def submit_batch(self, items: list[tuple[str, dict[str, Any]]]) -> str:
        lines = "".join(json.dumps({"custom_id": custom_id, "method": "POST", "url": BATCH_ENDPOINT, "body": body},
                                   ensure_ascii=False) + "\n" for custom_id, body in items)
        uploaded = await self._client.files.create(file=("parallax-batch.jsonl", lines.encode()), purpose="batch")
        batch = await self._client.batches.create(input_file_id=uploaded.id, endpoint=BATCH_ENDPOINT,
                                                  completion_window="24h")
        return batch.id

    async def batch_state(self, batch_id: str) -> BatchState:
        batch = await self._client.batches.retrieve(batch_id)
        counts = batch.request_counts
        total, done, failed = (counts.total, counts.completed, counts.failed) if counts else (0, 0, 0)
        return BatchState(batch.status, batch.status in BATCH_ENDED, total, done, failed)

    async def batch_results(self, batch_id: str) -> dict[str, Outcome]:
        """Each request's outcome by custom id: the output file's replies, the error file's errors. Requests in
        neither (a batch that failed, expired or was cancelled) are left out: the caller names them."""
        batch = await self._client.batches.retrieve(batch_id)
        outcomes: dict[str, Outcome] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self._client.files.content(file_id)
            for line in content.text.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                response, error = item.get("response"), item.get("error")
                if response and response.get("status_code") == 200:
                    outcomes[item["custom_id"]] = Outcome(reply=response.get("body"))
                elif response:
                    outcomes[item["custom_id"]] = Outcome(error=_error_message(response.get("body")),
                                                          status_code=response.get("status_code"))
                else:
                    error = error or {}
                    said = EXPIRED if error.get("code") == "batch_expired" \
                        else str(error.get("message") or error.get("code") or "no reply")
                    outcomes[item["custom_id"]] = Outcome(error=said)
        # A request in neither file never ran: it is an error too, never a direct call at the full price.
        if batch.status == "failed":
            said = "; ".join(str(e.message) for e in (batch.errors.data or [])[:3]) if batch.errors else ""
            outcomes["*"] = Outcome(error=f"the batch failed{': ' + said if said else ''}")
        elif batch.status in ("expired", "cancelled"):
            outcomes["*"] = Outcome(error=f"the batch was {batch.status} before this request ran")
        return outcomes

    async def _create(self, client: Any, request: Request, mode: str | None) -> Any:
        """The HTTP response (streamed: its body not read yet), sent by the SDK's client (auth, retries, errors
        as usual: its documented `post`) with the JSON encoded once here. `chat.completions.create` would walk
        and copy every parameter (the JSON schema too) against its types first: milliseconds of CPU a call,
        the largest cost of a batch's calls."""
        import httpx2

        params = self.params(request, mode)
        if request.streamed:
            params["stream"] = True
            if self._usage_in_stream:
                params["stream_options"] = {"include_usage": True}
        return await client.post("/chat/completions", cast_to=httpx2.Response, stream=request.streamed,
                                       content=json.dumps(params, ensure_ascii=False).encode(),
                                       options={"headers": {"Content-Type": "application/json"}})


def _rejects_form(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    return isinstance(status, int) and names_structured(status, f"{exc} {json.dumps(body, default=str)}")


async def _read_events(http: Any) -> AsyncIterator[Event]:
    """Server-sent events → text deltas (content or tool-call arguments), usage and the finish reason; the
    events of one network read together (sse.py)."""
    batches = event_batches(http)
    async for batch in batches:
        done = next((i for i, (_, data) in enumerate(batch) if data.strip() == "[DONE]"), None)
        events: list[Event] = []
        try:
            _collect(batch[:done], events)
        except Exception:
            for event in events:  # what arrived before the fault is kept
                yield event
            raise
        for event in events:
            yield event
        if done is not None:
            await drain(batches, DRAIN_S)
            return


def _error_message(raw: Any) -> str:
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return raw
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner)
        return str(inner)
    return str(data)


def _collect(batch: list[tuple[str, str]], out: list[Event]) -> None:
    """The events of chat completion chunks, adjacent texts as one, appended to `out`."""
    chunks = parsed([data for _, data in batch])
    text: list[str] = []
    try:
        for i, (name, data) in enumerate(batch):
            if name == ERROR_FIELD:  # llama-server reports a failure after HTTP 200 this way
                raise StreamError(_error_message(data))
            chunk = chunks[i] if chunks is not None else json.loads(data)
            if not isinstance(chunk, dict):
                raise StreamError("the stream contained malformed data")
            if name == "error" or chunk.get("error") or chunk.get("object") == "error":
                raise StreamError(_error_message(chunk))
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if content := delta.get("content"):
                    text.append(content)
                for call in delta.get("tool_calls") or ():
                    if arguments := (call.get("function") or {}).get("arguments"):
                        text.append(arguments)
                if (reason := choice.get("finish_reason")) is not None:
                    if text:
                        out.append("".join(text))
                        text.clear()
                    out.append(Finish("length" if reason == "length" else "stop"))
            if isinstance(usage := chunk.get("usage"), dict):
                if text:
                    out.append("".join(text))
                    text.clear()
                out.append(Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")))
    finally:
        if text:
            out.append("".join(text))


def _reply_events(data: Any) -> list[Event]:
    """A whole chat completion (JSON) → the same events a stream gives: text, usage, finish."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise StreamError(_error_message(data) if isinstance(data, dict) else "the reply was not a chat completion")
    events: list[Event] = []
    for choice in data["choices"][:1]:
        message = choice.get("message") or {}
        if message.get("content"):
            events.append(message["content"])
        for call in message.get("tool_calls") or ():
            if arguments := (call.get("function") or {}).get("arguments"):
                events.append(arguments)
        events.append(Finish("length" if choice.get("finish_reason") == "length" else "stop"))
    usage = data.get("usage")
    if isinstance(usage, dict):
        events.append(Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")))
    return events
