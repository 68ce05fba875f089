"""A loopback server speaking OpenAI Chat Completions and Anthropic Messages SSE, DeepL's and LibreTranslate's
translate endpoints, with injectable faults.

Tests drive the real SDKs against it. Each model name (or "deepl", "libretranslate") has a queue of scripted
replies (`enqueue`); an empty queue answers with a valid judgement, or a fixed translation.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .batch_api import BatchAPI

DEFAULT_JUDGEMENT = {
    "summary": "Fake provider review.",
    "strengths": ["clear"],
    "issues": [{"severity": "minor", "quote": "text", "note": "fake note"}],
    "score": 7,
    "confidence": 0.8,
}

DEFAULT_TRANSLATION = "Der Hund läuft schnell."


@dataclass
class Reply:
    """One scripted answer. kind: ok | status | drop | stall | no_final | bad_json | error_event | length |
    open_after_done (the whole reply and `data: [DONE]`, then the response held open)."""

    kind: str = "ok"
    text: str | None = None  # body text; defaults to DEFAULT_JUDGEMENT as JSON
    chunks: int = 8
    delay: float = 0.0  # seconds between chunks
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 2  # chunks sent before a fault
    usage: tuple[int, int] = (120, 40)
    message: str = "Overloaded"  # what an error event says


def ok(text: str | None = None, **kw: Any) -> Reply:
    return Reply("ok", text=text, **kw)


def status(code: int, body: str | bytes | dict[str, Any] = "", headers: dict[str, str] | None = None) -> Reply:
    raw = json.dumps(body) if isinstance(body, dict | list) else body
    return Reply("status", status=code, body=raw, headers=headers or {})


def fault(kind: str, after: int = 2, **kw: Any) -> Reply:
    return Reply(kind, after=after, **kw)


# What llama-cpp-python (0.3.x) answers, with HTTP 500, to a response_format it does not know.
LLAMA_CPP_PYTHON_REJECTS = (
    "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be 'text' or "
    "'json_object' [type=literal_error, input_value='json_schema', input_type=str]"
)
REJECTIONS = {
    "json_schema": LLAMA_CPP_PYTHON_REJECTS,
    "json_object": "response_format of type json_object is not supported by this server",
    "tools": "tools and tool_choice are not supported by this model",
}


_FAULTS = ("drop", "stall", "no_final", "bad_json", "error_event", "error_line")


class FakeProviders:
    """Behaviours of real OpenAI-compatible servers, off by default (the cloud APIs' behaviour):

    - `rejects`: request forms answered with HTTP 500 naming them ("json_schema", "json_object", "tools");
    - `token_params`: the token-limit parameters the server reads (a reply longer than the limit is cut with
      finish_reason "length"); without one it generates up to `context_tokens`;
    - `one_at_a_time`: requests are served one after another; with `interrupt_when_busy` (llama-cpp-python's
      default) a running stream ends at once with `data: [DONE]`, no finish reason, when another request waits;
    - `send_usage`: False ignores stream_options.include_usage.
    Each streamed piece of a reply counts as one token.
    """

    def __init__(self) -> None:
        self.rejects: set[str] = set()
        self.token_params: tuple[str, ...] = ("max_completion_tokens", "max_tokens")
        self.context_tokens = 10_000
        self.one_at_a_time = False
        self.interrupt_when_busy = False
        self.send_usage = True
        self.interrupted = 0  # streams ended early because another request was waiting
        self.waiting = 0
        self._serial = threading.Lock()
        self._lock = threading.Lock()
        self._queues: dict[str, list[Reply]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lookups: list[str] = []  # GETs of the services' language lists
        self.batches = BatchAPI(self)  # the providers' batch APIs
        self.batched: list[dict[str, Any]] = []  # requests answered inside a batch (not HTTP calls of their own)
        # Replies that depend on the request (a judge reading its prompt): (model, body) → Reply, or None to fall
        # back on the queue. Safe under concurrent requests, unlike looking at `requests[-1]`.
        self.answer: Callable[[str, dict[str, Any]], Reply | None] | None = None
        self.active = 0  # calls (POSTs) being answered now
        self.max_active = 0  # the most calls answered at once
        self._hold: threading.Barrier | None = None
        self._hold_when: Callable[[dict[str, Any]], bool] | None = None
        self._hold_streams_late = False
        self.held_in_vain = False  # a hold (see `hold`) timed out: the calls never were that many at once
        self.disconnects = 0  # streams the client closed before we finished
        self.connections = 0  # TCP connections accepted (a client that keeps its connections opens few)
        self.stop_event = threading.Event()
        # The language lists the services publish (GET /v2/languages, GET /languages), as their docs show them.
        self.deepl_languages = {"source": ["DE", "EN", "FR", "JA", "PT", "ZH"],
                                "target": ["DE", "EN-GB", "EN-US", "FR", "JA", "PT-BR", "PT-PT", "ZH", "ZH-HANS",
                                           "ZH-HANT"]}
        self.libretranslate_languages = [{"code": "en", "name": "English", "targets": ["de", "fr", "pt-BR", "zh-Hant"]},
                                         {"code": "de", "name": "German", "targets": ["en", "fr"]}]
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def behave_like_llama_cpp_python(self) -> None:
        """`python -m llama_cpp.server` 0.3.x defaults, as documented and observed."""
        self.rejects = {"json_schema"}
        self.token_params = ("max_tokens",)
        self.context_tokens = 4096
        self.one_at_a_time = self.interrupt_when_busy = True
        self.send_usage = False

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self, calls: int, timeout: float = 10.0, when: Callable[[dict[str, Any]], bool] | None = None,
             streams_after_headers: bool = False) -> None:
        """From now on each call (`when` its body says so) waits at the server until `calls` calls wait there
        together, then they all go on, and so on in groups of `calls`: a test sees that many calls overlap without
        sleeping. A call waits before the first byte of its answer, as at a server that answers after a delay;
        with `streams_after_headers`, a stream waits after its headers and first event instead (the SDK has
        returned to the caller then, as a real server's stream starts at once). If the calls are not that many
        within `timeout`, `held_in_vain` is set and the hold is off."""
        self._hold, self._hold_when, self.held_in_vain = threading.Barrier(calls, timeout=timeout), when, False
        self._hold_streams_late = streams_after_headers

    def enqueue(self, model: str, *replies: Reply) -> None:
        with self._lock:
            self._queues.setdefault(model, []).extend(replies)

    def next_reply(self, model: str) -> Reply:
        with self._lock:
            queue = self._queues.get(model)
            return queue.pop(0) if queue else Reply()

    def calls(self, model: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if model is None or r["model"] == model)

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeProviders

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake.connections += 1

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("content-length", 0))
        query += "&" + self.rfile.read(length).decode() if length else ""  # the deepl package sends GET data as a form
        with self.fake._lock:
            self.fake.lookups.append(self.path)  # free look-ups, not calls: kept apart from `requests`
        batches = self.fake.batches
        if path.startswith("/v1/batches/"):
            found = batches.read_openai(path.rsplit("/", 1)[1])
            self._send_status(status(200, found) if found else status(404, {"error": {"message": "no such batch"}}))
        elif path.startswith("/v1/files/") and path.endswith("/content"):
            data = batches.file_content(path.split("/")[3])
            self._send_status(Reply("status", status=200, body=data) if data is not None
                              else status(404, {"error": {"message": "no such file"}}))
        elif path.startswith("/v1/messages/batches/") and path.endswith("/results"):
            data = batches.anthropic_results(path.split("/")[4])
            self._send_status(Reply("status", status=200, body=data) if data is not None
                              else status(404, {"type": "error", "error": {"type": "not_found_error",
                                                                           "message": "no results"}}))
        elif path.startswith("/v1/messages/batches/"):
            found = batches.read_anthropic(path.rsplit("/", 1)[1])
            self._send_status(status(200, found) if found else status(404, {"type": "error", "error": {
                "type": "not_found_error", "message": "no such batch"}}))
        elif path == "/v2/languages":
            kind = "target" if "type=target" in query else "source"
            self._send_status(status(200, [{"language": code, "name": code, "supports_formality": False}
                                           for code in self.fake.deepl_languages[kind]]))
        elif path == "/languages":
            self._send_status(status(200, self.fake.libretranslate_languages))
        else:
            self._send_status(status(404, {"error": {"message": "not found"}}))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        raw = self.rfile.read(length)
        if self.path in ("/v1/files", "/v1/batches", "/v1/messages/batches"):
            return self._batch_post(raw)
        body = json.loads(raw or b"{}")
        model = {"/v2/translate": "deepl", "/translate": "libretranslate"}.get(self.path, body.get("model"))
        fake = self.fake
        with fake._lock:
            fake.requests.append({"path": self.path, "model": model, "body": body, "headers": dict(self.headers),
                                 "at": time.monotonic()})
            fake.active += 1
            fake.max_active = max(fake.max_active, fake.active)
        try:
            rejected = self._rejected_form(body) if self.path.endswith("/chat/completions") else None
            if rejected:  # the server cannot do this request form: a scripted reply stays in the queue
                self._wait_for_the_others(body)
                return self._send_status(status(500, {"error": {"message": REJECTIONS[rejected],
                                                                "type": "internal_server_error"}}))
            answered = fake.answer(model or "", body) if fake.answer else None
            reply = answered or fake.next_reply(model or "")
            if reply.kind == "status":
                self._wait_for_the_others(body)
                self._send_status(reply)
            elif model == "deepl":
                text = reply.text if reply.text is not None else DEFAULT_TRANSLATION
                self._send_status(status(200, {"translations": [
                    {"detected_source_language": "EN", "text": text, "billed_characters": len(text)}]}))
            elif model == "libretranslate":
                text = reply.text if reply.text is not None else DEFAULT_TRANSLATION
                self._send_status(status(200, {"translatedText": text}))
            elif self.path.endswith("/chat/completions"):
                if fake.one_at_a_time:
                    with fake._lock:
                        fake.waiting += 1
                    with fake._serial:
                        with fake._lock:
                            fake.waiting -= 1
                        self._stream(reply, _OpenAIFormat(body, fake.send_usage))
                else:
                    self._stream(reply, _OpenAIFormat(body, fake.send_usage))
            elif self.path.endswith("/messages"):
                self._stream(reply, _AnthropicFormat(body))
            else:
                self._send_status(status(404, {"error": {"message": "not found"}}))
        except (BrokenPipeError, ConnectionResetError):
            with fake._lock:
                fake.disconnects += 1
            self.close_connection = True
        finally:
            with fake._lock:
                fake.active -= 1

    def _wait_for_the_others(self, body: dict[str, Any]) -> None:
        fake = self.fake
        barrier = fake._hold
        if barrier is None or barrier.broken or (fake._hold_when is not None and not fake._hold_when(body)):
            return
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            fake.held_in_vain = True

    def _batch_post(self, raw: bytes) -> None:
        batches = self.fake.batches
        with self.fake._lock:
            self.fake.requests.append({"path": self.path, "model": None, "body": {}, "headers": dict(self.headers),
                                       "at": time.monotonic()})
        if self.path == "/v1/files":
            return self._send_status(status(200, batches.upload(self.headers.get("content-type", ""), raw)))
        create = batches.create_openai if self.path == "/v1/batches" else batches.create_anthropic
        code, answer = create(json.loads(raw or b"{}"))
        return self._send_status(status(code, answer))

    def _rejected_form(self, body: dict[str, Any]) -> str | None:
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.fake.rejects:
            return str(kind)
        if body.get("tools") and "tools" in self.fake.rejects:
            return "tools"
        return None

    def _token_limit(self, body: dict[str, Any]) -> int:
        limits = [body[p] for p in self.fake.token_params if isinstance(body.get(p), int)]
        return min(limits) if limits else self.fake.context_tokens

    def _send_status(self, reply: Reply) -> None:
        data = reply.body.encode() if isinstance(reply.body, str) else reply.body
        self.send_response(reply.status)
        is_json = data.startswith(b"{")
        self.send_header("content-type", "application/json" if is_json else "text/html")
        self.send_header("content-length", str(len(data)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: str) -> None:
        raw = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _whole(self, reply: Reply, fmt: _Format) -> None:
        """A request without `stream: true`: the whole reply as one JSON body (batch mode)."""
        text = reply.text if reply.text is not None else json.dumps(DEFAULT_JUDGEMENT)
        n = max(1, reply.chunks)
        limit = self._token_limit(fmt.request)
        if n > limit:  # cut at the limit the server applies, as a stream would be
            text = text[:round(limit * len(text) / n)]
            reply = Reply(**{**reply.__dict__, "kind": "length", "usage": (reply.usage[0], limit)})
        if reply.delay:
            time.sleep(reply.delay * n)
        self._wait_for_the_others(fmt.request)
        self._send_status(status(200, fmt.whole(reply, text)))

    def _stream(self, reply: Reply, fmt: _Format) -> None:
        if not fmt.request.get("stream"):
            return self._whole(reply, fmt)
        if not self.fake._hold_streams_late:
            self._wait_for_the_others(fmt.request)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        text = reply.text if reply.text is not None else json.dumps(DEFAULT_JUDGEMENT)
        n = max(1, reply.chunks)
        pieces = [text[round(i * len(text) / n) : round((i + 1) * len(text) / n)] for i in range(n)]
        limit = self._token_limit(fmt.request)
        if len(pieces) > limit:  # cut at the limit the server applies
            pieces = pieces[:limit]
            reply = Reply(**{**reply.__dict__, "kind": "length", "usage": (reply.usage[0], limit)})
        self._chunk(fmt.start(reply))
        if self.fake._hold_streams_late:
            self._wait_for_the_others(fmt.request)
        for i, piece in enumerate(pieces):
            if reply.kind in _FAULTS and i == reply.after:
                return self._fault(reply, fmt)
            if self.fake.interrupt_when_busy and self.fake.waiting:
                with self.fake._lock:
                    self.fake.interrupted += 1
                self._chunk("data: [DONE]\n\n")  # llama-cpp-python: no finish reason, the stream just ends
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return None
            if reply.delay:
                time.sleep(reply.delay)
            self._chunk(fmt.delta(piece))
        self._chunk(fmt.end(reply))
        if reply.kind == "open_after_done":  # the body never ends: only the client's timeout or close ends it
            self.fake.stop_event.wait(60)
            self.close_connection = True
            return None
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _fault(self, reply: Reply, fmt: _Format) -> None:
        if reply.kind == "drop":
            # Abort the connection mid-body: RST, no terminating chunk.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif reply.kind == "stall":
            # Keep the connection open, sending only SSE comments, until the client goes away.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not self.fake.stop_event.is_set():
                self._chunk(": keep-alive\n\n")
                time.sleep(0.05)
            self.close_connection = True
        elif reply.kind == "no_final":
            self.wfile.write(b"0\r\n\r\n")  # a clean end, without the provider's final event
        elif reply.kind == "bad_json":
            self._chunk(fmt.event_line("content_block_delta") + "data: {not json\n\n")
            self.wfile.write(b"0\r\n\r\n")
        elif reply.kind == "error_event":
            self._chunk(fmt.error(reply.message))
            self.wfile.write(b"0\r\n\r\n")
        elif reply.kind == "error_line":  # llama-server: an `error:` field, which SSE clients drop
            error = {"code": 400, "message": reply.message, "type": "exceed_context_size_error"}
            self._chunk(f"error: {json.dumps(error)}\n\n")
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Format:
    def __init__(self, request: dict[str, Any], send_usage: bool = True) -> None:
        self.request = request
        self.model = request.get("model", "")
        self.send_usage = send_usage

    def start(self, reply: Reply) -> str:
        raise NotImplementedError

    def delta(self, text: str) -> str:
        raise NotImplementedError

    def end(self, reply: Reply) -> str:
        raise NotImplementedError

    def error(self, message: str) -> str:
        raise NotImplementedError

    def whole(self, reply: Reply, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def event_line(self, name: str) -> str:
        return ""


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


class _OpenAIFormat(_Format):
    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": choices,
            **extra,
        }

    def start(self, reply: Reply) -> str:
        return _sse(self._chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))

    def delta(self, text: str) -> str:
        if self.request.get("tools"):  # function calling: the JSON arrives as the call's arguments
            name = self.request["tools"][0]["function"]["name"]
            call = {"index": 0, "id": "call_fake", "type": "function", "function": {"name": name, "arguments": text}}
            return _sse(self._chunk([{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]))
        return _sse(self._chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}]))

    def end(self, reply: Reply) -> str:
        reason = "length" if reply.kind == "length" else ("tool_calls" if self.request.get("tools") else "stop")
        out = _sse(self._chunk([{"index": 0, "delta": {}, "finish_reason": reason}]))
        if self.send_usage and (self.request.get("stream_options") or {}).get("include_usage"):
            p, c = reply.usage
            out += _sse(self._chunk([], usage={"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}))
        return out + "data: [DONE]\n\n"

    def error(self, message: str) -> str:
        return _sse({"error": {"message": message, "type": "server_error"}})

    def whole(self, reply: Reply, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self.request.get("tools"):
            name = self.request["tools"][0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_fake", "type": "function", "function": {"name": name, "arguments": text}}]}
        reason = "length" if reply.kind == "length" else ("tool_calls" if self.request.get("tools") else "stop")
        p, c = reply.usage
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": reason}],
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}


class _AnthropicFormat(_Format):
    def event_line(self, name: str) -> str:
        return f"event: {name}\n"

    def start(self, reply: Reply) -> str:
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": reply.usage[0], "output_tokens": 1},
        }
        self.tool = bool(self.request.get("tools"))
        block = (
            {"type": "tool_use", "id": "toolu_fake", "name": self.request["tools"][0]["name"], "input": {}}
            if self.tool
            else {"type": "text", "text": ""}
        )
        return (
            _sse({"type": "message_start", "message": message}, "message_start")
            + _sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start")
            + _sse({"type": "ping"}, "ping")
        )

    def delta(self, text: str) -> str:
        delta = (
            {"type": "input_json_delta", "partial_json": text} if self.tool else {"type": "text_delta", "text": text}
        )
        return _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")

    def end(self, reply: Reply) -> str:
        reason = "max_tokens" if reply.kind == "length" else ("tool_use" if self.tool else "end_turn")
        return (
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            + _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": None},
                    "usage": {"output_tokens": reply.usage[1]},
                },
                "message_delta",
            )
            + _sse({"type": "message_stop"}, "message_stop")
        )

    def error(self, message: str) -> str:
        return _sse({"type": "error", "error": {"type": "overloaded_error", "message": message}}, "error")

    def whole(self, reply: Reply, text: str) -> dict[str, Any]:
        tools = self.request.get("tools")
        block = ({"type": "tool_use", "id": "toolu_fake", "name": tools[0]["name"], "input": json.loads(text)}
                 if tools else {"type": "text", "text": text})
        reason = "max_tokens" if reply.kind == "length" else ("tool_use" if tools else "end_turn")
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": self.model, "content": [block],
                "stop_reason": reason, "stop_sequence": None,
                "usage": {"input_tokens": reply.usage[0], "output_tokens": reply.usage[1]}}
