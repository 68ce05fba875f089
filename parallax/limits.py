"""Every limit on how many calls run, and how fast: per-engine concurrency shared by every run of the process
whatever event loop it runs on (`Slots`), a latch for a first call others wait on, and a provider's requests per
minute (`RateLimiter`, shared by a batch's worker processes).

A local server that handles one request at a time (llama-cpp-python, a single Ollama runner) must see at most
that many calls from review, translate, judge and batch runs together. The app runs each page's run on its own
event loop, so an `asyncio.Semaphore` (bound to one loop) cannot be shared: waiters here are futures of their
own loop, woken thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any


class Slots:
    """At most `limit` holders at a time, first come first served."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a concurrency limit must be at least 1")
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def busy(self) -> bool:
        """True when a new caller would have to wait."""
        with self._lock:
            return self._used >= self.limit or bool(self._waiters)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._used < self.limit and not self._waiters:
                self._used += 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            entry = (loop, waiter)
            self._waiters.append(entry)
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                if entry in self._waiters:  # never handed a slot: just leave the queue
                    self._waiters.remove(entry)
                    raise
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot reached us as we were cancelled: pass it on
            # else the hand-over is in flight and `_hand_over` sees the cancelled future and releases
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if waiter.done():
                    continue
                try:
                    loop.call_soon_threadsafe(self._hand_over, waiter)
                    return  # the slot passes to that waiter: `_used` stays as it is
                except RuntimeError:  # its loop is closed: that waiter is gone
                    continue
            self._used -= 1

    def _hand_over(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # cancelled meanwhile: the slot goes to the next one
            self.release()
        else:
            waiter.set_result(None)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


_REGISTRY: dict[tuple[str, int], Slots] = {}
_REGISTRY_LOCK = threading.Lock()


def slots_for(key: str, limit: int) -> Slots:
    """The process-wide slots of one engine or provider (`key`), created on first use."""
    with _REGISTRY_LOCK:
        return _REGISTRY.setdefault((key, limit), Slots(limit))


class Latch:
    """Something one call finds out and others wait for, whatever their event loop: opened once, from any thread,
    every waiter woken on its own loop (an `asyncio.Event` belongs to one loop). It carries no value: a waiter
    reads what was found out where the opener left it."""

    def __init__(self) -> None:
        self._open = False
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def open(self) -> None:
        with self._lock:
            if self._open:
                return
            self._open = True
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits there any more
                loop.call_soon_threadsafe(_wake, waiter)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._open:
                return
            entry = (loop, loop.create_future())
            self._waiters.append(entry)
        try:
            await entry[1]
        finally:
            with self._lock:
                if entry in self._waiters:  # cancelled before the latch opened: leave no trace
                    self._waiters.remove(entry)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class RateLimiter:
    """At most `rpm` calls a minute for one provider, spaced evenly (a token bucket of one). With `shared`, a
    number in shared memory, every worker process of a batch draws from the same bucket."""

    def __init__(self, rpm: float, shared: Any = None) -> None:
        self.interval = 60.0 / rpm
        self.shared = shared  # multiprocessing.Value("d"): the time the next call may start, for every process
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()  # one clock for every process of the machine
            if self.shared is None:
                start = max(now, self.next_at)
                self.next_at = start + self.interval
            else:
                with self.shared.get_lock():
                    start = max(now, self.shared.value)
                    self.shared.value = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def provider_of(engine_id: str) -> str:
    return engine_id.split(":", 1)[0] if ":" in engine_id else engine_id
