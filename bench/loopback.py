"""A loopback server for the HTTP benchmarks: OpenAI Chat Completions and Anthropic Messages, streamed (SSE) or
whole, every answer sent after a fixed delay, whatever the request asks for (every structured-output form is
accepted). A bare asyncio protocol (no stream objects), the bodies encoded once: it costs ~0.1 ms of CPU a call,
so it stays far from being the bottleneck. Run it in a process of its own (`start`).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
from typing import Any

TOKENS = 200
SUMMARY = " ".join(f"word{i}" for i in range(TOKENS - 20))
REPLY = json.dumps({"score": 7, "summary": SUMMARY, "strengths": ["clear"], "confidence": 0.8,
                    "issues": [{"severity": "minor", "quote": "text", "note": "a note"}]})
PIECES = [REPLY[round(i * len(REPLY) / TOKENS):round((i + 1) * len(REPLY) / TOKENS)] for i in range(TOKENS)]
USAGE = (300, TOKENS)


def _openai_sse() -> bytes:
    chunks = []
    for piece in PIECES:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                 "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        chunks.append(f"data: {json.dumps(chunk)}\n\n")
    end = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1], "total_tokens": sum(USAGE)}}
    chunks.append(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n")
    return "".join(chunks).encode()


def _openai_json() -> bytes:
    return json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "bench",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1],
                                 "total_tokens": sum(USAGE)}}).encode()


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _anthropic_sse(tool: bool) -> bytes:
    message = {"id": "msg", "type": "message", "role": "assistant", "content": [], "model": "bench",
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": USAGE[0], "output_tokens": 1}}
    block = {"type": "tool_use", "id": "toolu", "name": "judgement", "input": {}} if tool else {"type": "text",
                                                                                                "text": ""}
    events = [_event("message_start", {"type": "message_start", "message": message}),
              _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
              _event("ping", {"type": "ping"})]
    for piece in PIECES:
        delta = {"type": "input_json_delta", "partial_json": piece} if tool else {"type": "text_delta", "text": piece}
        events.append(_event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
               _event("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": "tool_use" if tool else "end_turn",
                                                  "stop_sequence": None},
                                        "usage": {"output_tokens": USAGE[1]}}),
               _event("message_stop", {"type": "message_stop"})]
    return "".join(events).encode()


def _anthropic_json(tool: bool) -> bytes:
    block = ({"type": "tool_use", "id": "toolu", "name": "judgement", "input": json.loads(REPLY)} if tool
             else {"type": "text", "text": REPLY})
    return json.dumps({"id": "msg", "type": "message", "role": "assistant", "model": "bench", "content": [block],
                       "stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None,
                       "usage": {"input_tokens": USAGE[0], "output_tokens": USAGE[1]}}).encode()


def _response(kind: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (kind, len(body), body)


def serve(port: int, ready: Any, latency_s: float) -> None:
    """HTTP/1.1 keep-alive on 127.0.0.1:`port`, every answer after `latency_s`; `ready` is set once it listens."""
    sse, event_json = b"text/event-stream", b"application/json"
    replies = {
        ("openai", True, False): _response(sse, _openai_sse()),
        ("openai", False, False): _response(event_json, _openai_json()),
        ("anthropic", True, True): _response(sse, _anthropic_sse(True)),
        ("anthropic", True, False): _response(sse, _anthropic_sse(False)),
        ("anthropic", False, True): _response(event_json, _anthropic_json(True)),
        ("anthropic", False, False): _response(event_json, _anthropic_json(False)),
    }

    class Connection(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].lower()
                at = head.find(b"content-length:")
                length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
                if len(self.buffer) < end + 4 + length:
                    return  # the body is still coming
                body = self.buffer[end + 4:end + 4 + length].replace(b" ", b"")
                self.buffer = self.buffer[end + 4 + length:]
                wire = "anthropic" if head.startswith(b"post /v1/messages") else "openai"
                streamed = b'"stream":true' in body
                tool = wire == "anthropic" and b'"tools":' in body
                loop.call_later(latency_s, self.answer, replies[(wire, streamed, tool)])

        def answer(self, reply: bytes) -> None:
            if not self.transport.is_closing():
                self.transport.write(reply)

    async def main() -> None:
        server = await loop.create_server(Connection, "127.0.0.1", port, backlog=2048)
        ready.set()
        async with server:
            await server.serve_forever()

    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(latency_s: float) -> tuple[multiprocessing.Process, int]:
    """The server in a process of its own (so its CPU is not the client's); returns it and its port."""
    port, ready = free_port(), multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, ready, latency_s), daemon=True)
    server.start()
    if not ready.wait(10):
        raise RuntimeError("the loopback server did not start")
    return server, port
