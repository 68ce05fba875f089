"""A failure in the user's words: what went wrong with which provider, after how many attempts, with every key
and key-like string removed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from parallax.engines.base import (
    BatchRequestError,
    StreamError,
)

if TYPE_CHECKING:
    pass


TOO_LONG = "the text is too long for this model's context window"
_KEY_LIKE = re.compile(r"(sk-(?:ant-)?[A-Za-z0-9_*-]{6,}|Bearer\s+\S+|key-[A-Za-z0-9]{8,})")


def without_secrets(text: str, secrets: Iterable[str]) -> str:
    """The configured key values replaced; nothing else touched (for model text, which may say "sk-…" itself)."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove API keys (the configured ones, and anything shaped like one) from a message."""
    return _KEY_LIKE.sub("[redacted]", without_secrets(text, secrets))


_CONTEXT_OVERFLOW = re.compile(
    r"prompt is too long|context.length|context window|context size|maximum context|exceeds? (?:the )?(?:available )?"
    r"context|too many tokens",
    re.I,
)


def _server_message(exc: Exception) -> str:
    """What the server said, from a JSON body ({"error": {"message"}}, {"message"}, FastAPI's {"detail"})."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for key in ("message", "detail"):
                if isinstance(inner.get(key), str):
                    return inner[key]
            if isinstance(inner.get("detail"), list):  # FastAPI validation errors
                return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in inner["detail"])
        elif isinstance(inner, str):
            return inner
    elif isinstance(body, str) and not body.lstrip().startswith("<"):  # an HTML page (a proxy's) says nothing
        return body
    return ""


def _cut(message: str, limit: int = 200) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def plural(n: int, word: str) -> str:
    """'1 document', '3 documents', '2 branches'."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}{'es' if word.endswith(('s', 'sh', 'ch', 'x', 'z')) else 's'}"


def describe_failure(exc: BaseException, provider: str, attempts: int, secrets: Iterable[str] = ()) -> str:
    """A short message for a failed call that names the provider and never contains a key."""
    tried = plural(max(1, attempts), "attempt")
    code = getattr(exc, "status_code", None) or getattr(exc, "http_status_code", None)
    name = type(exc).__name__
    message = _server_message(exc) if isinstance(exc, Exception) else ""
    said = f": {_cut(message)}" if message else ""
    if isinstance(exc, BatchRequestError):
        text = f"in the provider batch{f' (HTTP {code})' if code else ''}: {_cut(str(exc))}"
    elif isinstance(exc, StreamError):
        text = TOO_LONG if _CONTEXT_OVERFLOW.search(str(exc)) else f"the stream reported an error: {_cut(str(exc))}"
    elif isinstance(code, int):
        if code == 429:
            text = f"rate limited after {tried}"
        elif code in (401, 403):
            text = f"authentication failed (HTTP {code}) — check the API key"
        elif getattr(exc, "code", None) == "context_length_exceeded" or _CONTEXT_OVERFLOW.search(message + str(exc)):
            text = TOO_LONG
        elif code == 456:
            text = "quota exceeded for this billing period (HTTP 456)"
        elif code >= 500:
            text = f"server error (HTTP {code}) after {tried}{said}"
        elif code == 404:
            text = "model or endpoint not found (HTTP 404)" + said
        else:
            text = f"request rejected (HTTP {code}){said}"
    elif name == "ConnectionException":  # DeepL's own wrapper around requests' errors
        text = f"could not connect after {tried}"
    elif "Timeout" in name:
        text = "the server stopped responding"
    elif name in ("ConnectError", "RemoteProtocolError", "ReadError", "WriteError", "APIConnectionError"):
        # The SDKs wrap transport errors; the cause says whether we never connected or were cut off.
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else name
        if "Connect" in cause:
            text = f"could not connect after {tried}"
        else:
            text = "connection dropped mid-stream"
    elif isinstance(exc, json.JSONDecodeError) or name == "APIResponseValidationError":
        text = "the stream contained malformed data"
    elif name == "APIError":
        text = f"the stream reported an error: {_cut(message or str(exc))}"
    else:
        text = f"{name}: {exc}"
    return redact(f"{provider}: {text}"[:300], secrets)
