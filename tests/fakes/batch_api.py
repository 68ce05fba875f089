"""The providers' batch APIs, as documented, for the loopback fake server.

OpenAI: `POST /v1/files` (multipart, purpose=batch, JSONL of {custom_id, method, url, body}), `POST /v1/batches`,
`GET /v1/batches/{id}` (validating → in_progress → completed, request_counts, output_file_id, error_file_id),
`GET /v1/files/{id}/content`. Anthropic: `POST /v1/messages/batches` ({requests: [{custom_id, params}]}),
`GET /v1/messages/batches/{id}` (in_progress → ended, request_counts, results_url),
`GET /v1/messages/batches/{id}/results` (JSONL of {custom_id, result: succeeded | errored | expired}).

A batch stays in progress for `polls` reads, then every request is answered the way the fake answers a whole
(non-streamed) call: the model's queue or `answer`; a scripted `status(...)` reply becomes that request's error,
and a Reply of kind "expired" an expired request.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any


@dataclass
class FakeBatch:
    id: str
    provider: str  # "openai" | "anthropic"
    requests: list[dict[str, Any]]  # {custom_id, body}
    reads: int = 0
    ended: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)  # lines of the results (or output + error) file
    counts: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None


class BatchAPI:
    """State of the fake's batch endpoints; `server` is the FakeProviders it belongs to."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.polls = 1  # reads of a batch that still say in progress
        self.refuse: set[str] = set()  # providers whose batch creation is refused (HTTP 400)
        self.expire_all = False  # an OpenAI batch ends "expired" with no output or error file
        self.batches: dict[str, FakeBatch] = {}
        self.files: dict[str, bytes] = {}
        self.created: list[str] = []  # batch ids, in the order they were created
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- OpenAI ---

    def upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        message = BytesParser(policy=HTTP).parsebytes(b"content-type: " + content_type.encode() + b"\r\n\r\n" + raw)
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        data = parts["file"].get_payload(decode=True)
        purpose = parts["purpose"].get_content().strip()
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0,
                "filename": parts["file"].get_filename() or "batch.jsonl", "purpose": purpose, "status": "processed"}

    def create_openai(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "openai" in self.refuse:
            return 400, {"error": {"message": "Enqueued token limit reached for gpt-4o-mini",
                                   "type": "invalid_request_error"}}
        data = self.files.get(body.get("input_file_id", ""))
        if data is None:
            return 404, {"error": {"message": "No such File object", "type": "invalid_request_error"}}
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        if not lines or any(line.get("url") != body.get("endpoint") for line in lines):
            return 400, {"error": {"message": "every request's url must be the batch's endpoint",
                                   "type": "invalid_request_error"}}
        batch = self._new("batch", "openai", [{"custom_id": x["custom_id"], "body": x["body"]} for x in lines])
        return 200, self.openai_view(batch)

    def openai_view(self, batch: FakeBatch) -> dict[str, Any]:
        total = len(batch.requests)
        counts = {"total": total, "completed": batch.counts.get("ok", 0),
                  "failed": batch.counts.get("errored", 0) + batch.counts.get("expired", 0)}
        return {"id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
                "input_file_id": "file-in", "completion_window": "24h",
                "status": ("expired" if self.expire_all else "completed") if batch.ended
                else ("validating" if batch.reads == 0 else "in_progress"),
                "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
                "created_at": 0, "expires_at": 86400, "request_counts": counts, "metadata": None}

    def read_openai(self, batch_id: str) -> dict[str, Any] | None:
        batch = self._read(batch_id)
        return None if batch is None else self.openai_view(batch)

    def file_content(self, file_id: str) -> bytes | None:
        return self.files.get(file_id)

    # --- Anthropic ---

    def create_anthropic(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "anthropic" in self.refuse:
            return 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                    "message": "too many batches in progress"}}
        requests = body.get("requests") or []
        if not requests:
            return 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "requests: empty"}}
        batch = self._new("msgbatch", "anthropic", [{"custom_id": x["custom_id"], "body": x["params"]}
                                                    for x in requests])
        return 200, self.anthropic_view(batch)

    def anthropic_view(self, batch: FakeBatch) -> dict[str, Any]:
        counts = {"processing": 0 if batch.ended else len(batch.requests), "succeeded": batch.counts.get("ok", 0),
                  "errored": batch.counts.get("errored", 0), "canceled": 0, "expired": batch.counts.get("expired", 0)}
        return {"id": batch.id, "type": "message_batch", "processing_status": "ended" if batch.ended else "in_progress",
                "request_counts": counts, "created_at": "2026-12-05T00:00:00Z", "expires_at": "2026-12-06T00:00:00Z",
                "ended_at": "2026-12-05T00:01:00Z" if batch.ended else None, "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": (f"{self.server.anthropic_url}/v1/messages/batches/{batch.id}/results"
                                if batch.ended else None)}

    def read_anthropic(self, batch_id: str) -> dict[str, Any] | None:
        batch = self._read(batch_id)
        return None if batch is None else self.anthropic_view(batch)

    def anthropic_results(self, batch_id: str) -> bytes | None:
        batch = self.batches.get(batch_id)
        if batch is None or not batch.ended:
            return None
        return "".join(json.dumps(line) + "\n" for line in batch.results).encode()

    # --- both ---

    def _new(self, prefix: str, provider: str, requests: list[dict[str, Any]]) -> FakeBatch:
        with self._lock:
            batch = FakeBatch(f"{prefix}_{next(self._ids)}", provider, requests)
            self.batches[batch.id] = batch
            self.created.append(batch.id)
        return batch

    def _read(self, batch_id: str) -> FakeBatch | None:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return None
            batch.reads += 1
            if not batch.ended and batch.reads > self.polls:
                if self.expire_all:
                    batch.ended = True
                else:
                    self._answer(batch)
            return batch

    def _answer(self, batch: FakeBatch) -> None:
        """Every request of the batch answered, as the provider does once the batch ends."""
        from .provider_server import _AnthropicFormat, _OpenAIFormat

        outputs, errors = [], []
        for item in batch.requests:
            body, custom_id = item["body"], item["custom_id"]
            model = body.get("model", "")
            with self.server._lock:
                self.server.batched.append({"batch": batch.id, "custom_id": custom_id, "model": model, "body": body})
            reply = (self.server.answer(model, body) if self.server.answer else None) or self.server.next_reply(model)
            if reply.kind == "expired":
                kind = "expired"
            elif reply.kind == "status":
                kind = "errored"
            else:
                kind = "ok"
            batch.counts[kind] = batch.counts.get(kind, 0) + 1
            text = reply.text if reply.text is not None else None
            if batch.provider == "openai":
                if kind == "ok":
                    whole = _OpenAIFormat(body).whole(reply, text if text is not None else _default(body))
                    outputs.append({"id": f"batch_req_{custom_id}", "custom_id": custom_id, "error": None,
                                    "response": {"status_code": 200, "request_id": "req_fake", "body": whole}})
                elif kind == "errored":
                    errors.append({"id": f"batch_req_{custom_id}", "custom_id": custom_id, "error": None,
                                   "response": {"status_code": reply.status, "request_id": "req_fake",
                                                "body": json.loads(reply.body or "{}")}})
                else:
                    errors.append({"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": None,
                                   "error": {"code": "batch_expired", "message": "This request could not be "
                                             "executed before the completion window expired."}})
            else:
                if kind == "ok":
                    whole = _AnthropicFormat(body).whole(reply, text if text is not None else _default(body))
                    result: dict[str, Any] = {"type": "succeeded", "message": whole}
                elif kind == "errored":
                    said = json.loads(reply.body or "{}")
                    message = (said.get("error") or {}).get("message", "error") if isinstance(said, dict) else "error"
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": "invalid_request_error", "message": message}}}
                else:
                    result = {"type": "expired"}
                batch.results.append({"custom_id": custom_id, "result": result})
        if batch.provider == "openai":
            batch.output_file_id = self._file(outputs)
            batch.error_file_id = self._file(errors)
        batch.ended = True

    def _file(self, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = "".join(json.dumps(line) + "\n" for line in lines).encode()
        return file_id


def _default(body: dict[str, Any]) -> str:
    from .provider_server import DEFAULT_JUDGEMENT, DEFAULT_TRANSLATION

    return json.dumps(DEFAULT_JUDGEMENT) if (body.get("response_format") or body.get("tools")) else DEFAULT_TRANSLATION
