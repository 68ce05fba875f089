"""The engine contract: one async streaming method per provider; everything else is the runner's job."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from parallax.limits import Slots

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Task:
    """What the call is about, for engines that work on the text itself rather than on a prompt."""

    kind: Literal["review", "translate", "judge"]
    document: str
    perspective: str = ""
    source: str = ""  # language codes, for translations
    target: str = ""


@dataclass(frozen=True)
class Request:
    """A prompt for one engine call. `schema` asks for structured (JSON) output."""

    system: str
    messages: tuple[Message, ...]
    task: Task
    schema: dict[str, Any] | None = None
    schema_name: str = "judgement"
    max_tokens: int = 1500
    temperature: float | None = None  # None: the provider's default; the judge asks for 0, as GEMBA does
    streamed: bool = True  # False: ask for the whole reply at once (a batch: nobody watches it arrive)


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    price_factor: float = 1.0  # 0.5: answered inside a provider batch, at the batch price


@dataclass(frozen=True)
class BatchState:
    """A provider batch as its provider reports it: its own state word, whether it has ended, request counts."""

    state: str
    ended: bool
    total: int
    succeeded: int
    failed: int  # errored, expired or cancelled requests


@dataclass(frozen=True)
class Outcome:
    """One request of a provider batch: the whole reply, or what the provider said instead."""

    reply: dict[str, Any] | None = None
    error: str | None = None
    status_code: int | None = None


EXPIRED = "expired: the 24-hour window ended before it ran"  # a provider batch's request that never ran


class BatchRequestError(Exception):
    """A request of a provider batch came back without a reply (rejected, expired, cancelled)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error or "no result")
        self.status_code = outcome.status_code
        self.body = {"error": {"message": outcome.error or ""}}


@dataclass(frozen=True)
class Finish:
    """How the stream ended: "stop" (complete), "length" (cut off by the token limit)."""

    reason: Literal["stop", "length"]


@dataclass(frozen=True)
class Structured:
    """How the engine asked for structured output: json_schema, json_object, tool or prompt."""

    mode: str


class StreamError(Exception):
    """The server reported an error inside a stream that had started (HTTP 200 already sent)."""


# An engine yields text deltas, and Usage / Finish / Structured markers when it knows them.
Event = str | Usage | Finish | Structured


class Engine:
    """An engine: one async streaming method, and what it can do declared as class attributes (callers read them,
    never probe with getattr). Every engine subclasses this and sets what differs from these defaults."""

    engine_id: str  # e.g. "openai:gpt-4o-mini"
    provider: str  # a human name for messages, e.g. "OpenAI"
    model: str
    free = False  # offline and simulated engines cost nothing
    kinds: frozenset[str] = frozenset({"review", "translate", "judge"})  # the tasks it can do
    streams = True  # False: the whole answer arrives at once (DeepL, LibreTranslate)
    prompted = True  # False: it gets the text itself, no prompt (translation services, offline engines)
    batch_api = False  # True: submit_batch / batch_state / batch_results (the providers' batch APIs)
    slots: Slots | None = None  # at most this many calls at once to its server, across every run of the process
    interrupted_hint = ""  # what to add when its stream is cut (a server that handles one request at a time)
    not_a_translation: str | None = None  # set: its output is never a translation (pseudo-localisation)

    def stream(self, request: Request) -> AsyncIterator[Event]:
        raise NotImplementedError

    def pair_problem(self, source: str, target: str) -> str | None:
        """Why this engine cannot translate from `source` to `target`, or None (it can, or it need not say)."""
        return None


async def stream_local(pieces: Iterable[str]) -> AsyncIterator[Event]:
    """Stream text computed on this machine piece by piece like a provider would, yielding to the event loop
    between pieces so that sibling branches interleave; then a complete finish. No usage: no model read or wrote
    tokens (a count of words is not one), so every view shows none."""
    for piece in pieces:
        yield piece
        await asyncio.sleep(0)
    yield Finish("stop")


@dataclass
class Attempts:
    """HTTP requests one engine sent for a branch: every request, and the retries of the same request."""

    count: int = 0
    retries: int = 0
    _since_new: int = 0  # requests since the caller last sent a new request (not a retry)
    on_retry: Callable[[int], None] | None = None  # told "retry k" while the SDK retries

    def new_request(self) -> None:
        self._since_new = 0


# The runner sets a fresh counter per branch; HTTP engines count every request the SDK
# sends (first try + its own retries) through an httpx event hook running in the branch's task.
ATTEMPTS: contextvars.ContextVar[Attempts] = contextvars.ContextVar("parallax_attempts")


async def count_attempt(_request: Any) -> None:
    counter = ATTEMPTS.get(None)
    if counter is not None:
        counter.count += 1
        counter._since_new += 1
        if counter._since_new > 1:
            counter.retries += 1
            if counter.on_retry is not None:
                counter.on_retry(counter._since_new - 1)


def connection_limits() -> Any:
    """For the SDKs' HTTP clients: as many idle connections kept as may be open. The SDKs keep 100, so a batch with
    more calls at once closes and reopens connections all the time (a TCP and TLS handshake each)."""
    import httpx2

    return httpx2.Limits(max_connections=1000, max_keepalive_connections=1000)


@functools.cache
def ssl_context() -> Any:
    """One TLS context for every SDK client of the process (what httpx builds by default): loading the CA
    certificates costs 50-100 ms, which each engine of each run (and each rerun of a page) paid again."""
    import httpx2

    return httpx2.create_ssl_context()


CALLS_PER_CLIENT = 32  # calls at once on one SDK client before an engine opens another


class Clients(Generic[T]):
    """An engine's SDK clients: calls go to the least busy one, and a new one opens when each has CALLS_PER_CLIENT
    calls in flight. httpcore's connection pool looks through all its connections on every request and every
    reply: with a few hundred calls at once in one pool, that was a large part of each call's CPU, and 256 calls
    at once ran slower than 128. Used from one event loop, as an engine's client is."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._clients = [make()]
        self._busy = [0]

    @property
    def first(self) -> T:
        """For the rare calls (a provider batch's files and state)."""
        return self._clients[0]

    @contextlib.contextmanager
    def one(self) -> Iterator[T]:
        i = min(range(len(self._busy)), key=self._busy.__getitem__)
        if self._busy[i] >= CALLS_PER_CLIENT:
            self._clients.append(self._make())
            self._busy.append(0)
            i = len(self._busy) - 1
        self._busy[i] += 1
        try:
            yield self._clients[i]
        finally:
            self._busy[i] -= 1


def new_request() -> None:
    """An engine sends a different request (not a retry of the last one), e.g. another structured mode."""
    counter = ATTEMPTS.get(None)
    if counter is not None:
        counter.new_request()


_REMEMBERED: dict[str, tuple[float, Any]] = {}
RETRY_ASKING_S = 60.0


def remembered(key: str, ask: Callable[[], T], fallback: T) -> T:
    """A service's answer that rarely changes (its language list), asked once per process. When it cannot be
    asked, the fallback, and no new attempt for a minute (the page plans on every rerun)."""
    now = time.monotonic()
    if key in _REMEMBERED and now < _REMEMBERED[key][0]:
        return cast(T, _REMEMBERED[key][1])
    try:
        value, until = ask(), math.inf
    except Exception:  # unreachable, refused, not the API we expected: the service's own reply will tell
        value, until = fallback, now + RETRY_ASKING_S
    _REMEMBERED[key] = (until, value)
    return value
