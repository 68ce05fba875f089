"""Server-sent events as the streaming engines read them: read by read, not line by line.

A network read often brings many events (a fast model, a loaded client): the engines handle the events of one
read together — their JSON parsed in one go, their text deltas yielded as one — since each event yielded costs
the runner, the graph's stream and the page a step of their own. The SDKs still send the request (auth,
retries, HTTP errors); the body is read here, so errors a server reports inside the stream are seen too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

ERROR_FIELD = ":error"  # the name given to an `error:` line (llama-server's), which SSE clients would drop

_NEWLINES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines (and httpx's aiter_lines) split


async def _line_batches(http: Any) -> AsyncIterator[list[str]]:
    """The body's lines, split as httpx's `aiter_lines` splits them, those of one network read together; at the
    end an empty line (a last event sent without its blank line still ends)."""
    pending = ""
    async for text in http.aiter_text():
        pending += text
        held = ""
        if pending.endswith("\r"):  # maybe the first half of CR LF: it ends a line once the next read says so
            pending, held = pending[:-1], "\r"
        parts = pending.splitlines(keepends=True)
        pending = (parts.pop() if parts and parts[-1][-1] not in _NEWLINES else "") + held
        if parts:
            yield "".join(parts).splitlines()
    yield [*pending.splitlines(), ""]


async def event_batches(http: Any) -> AsyncIterator[list[tuple[str, str]]]:
    """(event name, data) of the events each network read completes, in order. An `error:` line comes as an
    event named ERROR_FIELD."""
    name, data = "", []
    async for lines in _line_batches(http):
        events: list[tuple[str, str]] = []
        for line in lines:
            if line:
                if line.startswith("data:"):
                    data.append(line[6:] if line.startswith("data: ") else line[5:])
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                elif field == "event":
                    name = value
                elif field == "error":
                    events.append((ERROR_FIELD, value))
                continue
            if data:
                events.append((name, data[0] if len(data) == 1 else "\n".join(data)))
            name, data = "", []
        if events:
            yield events


def parsed(datas: list[str]) -> list[Any] | None:
    """The JSON of many events parsed in one go, or None when one of them is not JSON (then parse them one by
    one, to keep what came before the bad one)."""
    if len(datas) < 2:
        return None
    with contextlib.suppress(ValueError):
        found = json.loads("[" + ",".join(datas) + "]")
        if len(found) == len(datas):
            return list(found)
    return None


async def drain(batches: AsyncIterator[Any], seconds: float) -> None:
    """Read what follows the final event (the body's end): only a response read to its end lets httpx keep the
    connection, else every streamed call opens a new one (a TCP and TLS handshake each). A server that holds the
    response open after it costs at most `seconds`; the connection is dropped then."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for _ in batches:
                pass
