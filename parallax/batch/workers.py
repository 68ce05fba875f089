"""A batch over several processes: one process reaches about one core (the SDKs, JSON and the event loop are
Python), so `--workers N` runs N worker processes that pull documents from one queue.

The parent reads the input, hands out rows, and is the only writer of the results file: a worker sends back
each document's row when all its branches are done. So the file holds whole documents only, a kill loses
only the documents in flight, and a rerun resumes exactly (`batch.prepare_resume`). The calls at once are
split between the workers; a rate limit (`--rpm`) is one bucket in shared memory that every worker draws from.
A worker whose parent is gone stops at once (it would otherwise go on paying for calls nobody writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from parallax.results import BranchResult
from parallax.run.plan import RunPlan
from parallax.run.spec import rebound

POLL_S = 0.2  # how often a blocked queue read looks up (a stop, a dead worker, a dead parent)
ROWS_PER_HOP = 16  # rows a worker takes from the inbox at most at once (a few: the others take theirs too)
# What every worker needs, imported once by the fork server that forks the workers.
PRELOAD = ["parallax.batch.workers", "parallax.batch.pool", "parallax.batch.output", "parallax.storage",
           "parallax.engines.openai_engine", "parallax.engines.anthropic_engine", "openai", "anthropic"]


def fork_server() -> Any:
    """Workers are forked by a fork server that imported Parallax and the SDKs once: each starts in milliseconds,
    not after its own ~0.6 s of imports, and from a clean process (the batch's threads and event loop are not
    inherited, as they would be by a plain fork)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_early() -> None:
    """Start the fork server now, so that its imports overlap with the batch's own start (reading the input,
    planning); `parallax batch --workers N` calls this first."""
    from multiprocessing import forkserver

    fork_server()
    forkserver.ensure_running()


async def in_processes(plan: RunPlan, rows: Iterator[Any], record: Any, workers: int, concurrency: int,
                       rpm: dict[str, float], streamed: bool) -> None:
    """Run `rows` (batch.Row) in `workers` processes; `record(line, cached, written)` (BatchOutput.record) is
    called here, in the parent, for each finished document."""
    from parallax.batch.rows import BatchError

    context = fork_server()
    inbox: Any = context.Queue(maxsize=concurrency * 2)
    outbox: Any = context.Queue()
    rates = {provider: context.Value("d", 0.0) for provider in rpm}
    cache_url = getattr(plan.cache, "url", None)
    shipped = replace(plan, engines={}, cache=None)  # engines hold clients and sockets: each worker builds its own
    shares = [concurrency // workers + (i < concurrency % workers) for i in range(workers)]
    running = [context.Process(target=_worker, name=f"parallax-worker-{i + 1}", daemon=True,
                               args=(shipped, cache_url, inbox, outbox, shares[i], rpm, rates, streamed, os.getpid()))
               for i in range(workers)]
    for process in running:
        process.start()
    stop = threading.Event()

    fed: list[BaseException] = []

    def feed() -> None:
        """Rows to the workers, then one end marker each, always: a reading that fails half-way (the input file
        changed under us) ends the batch with its reason, never leaves the workers waiting."""
        try:
            for row in rows:
                while not stop.is_set():
                    try:
                        inbox.put((row.number, row.doc_id, row.text), timeout=POLL_S)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except Exception as exc:  # noqa: BLE001 - told by collect(), in the batch's own thread
            fed.append(exc)
        finally:
            if not stop.is_set():
                for _ in running:
                    inbox.put(None)

    def collect() -> None:
        ended, suspect = 0, False
        while ended < workers and not stop.is_set():
            try:
                message = outbox.get(timeout=POLL_S)
            except queue.Empty:
                dead = [p for p in running if p.exitcode not in (None, 0)]
                if dead and not suspect:  # once more: its last words may still be in the pipe
                    suspect = True
                elif dead:
                    raise BatchError(f"{dead[0].name} stopped (exit code {dead[0].exitcode}); the documents it was "
                                     "running are not written: run the batch again to resume") from None
                continue
            if message[0] == "row":
                record(*message[1:])
            elif message[0] == "failed":
                raise BatchError(message[1])
            else:
                ended += 1
        if fed:
            raise BatchError(f"reading the input stopped: {fed[0]}") from fed[0]

    feeder = threading.Thread(target=feed, name="parallax-feeder", daemon=True)
    feeder.start()
    try:
        await asyncio.to_thread(collect)
    finally:
        stop.set()
        for process in running:
            if process.is_alive():
                process.terminate()
        for process in running:
            await asyncio.to_thread(process.join, 5)
        feeder.join(5)
        inbox.cancel_join_thread()
        outbox.cancel_join_thread()


def _worker(plan: RunPlan, cache_url: str | None, inbox: Any, outbox: Any, concurrency: int,
            rpm: dict[str, float], rates: dict[str, Any], streamed: bool, batch: int) -> None:
    """A worker process: documents from `inbox` through the branches, each finished row to `outbox`."""
    from parallax.batch.output import finished
    from parallax.batch.pool import run_documents
    from parallax.batch.rows import Row
    from parallax.limits import RateLimiter
    from parallax.storage import GroupedCache, open_store

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    watched = _die_with(batch)
    cache = GroupedCache(open_store(cache_url)) if cache_url else None
    plan = replace(rebound(plan), cache=cache)
    limiters = {p: RateLimiter(n, rates[p]) for p, n in rpm.items()}

    def send(row: Row, results: list[BranchResult], written: dict[str, Any]) -> None:
        outbox.put(("row", *finished(row, results), written))

    async def incoming() -> AsyncIterator[Row]:
        while True:  # the rows waiting, in one hop to a thread (one hop a row starves the calls when rows are short)
            for item in await asyncio.to_thread(_get, inbox, watched, ROWS_PER_HOP):
                if item is None:
                    return
                yield Row(*item)

    try:
        asyncio.run(run_documents(plan, incoming(), send, concurrency, limiters, streamed))
        if cache is not None:
            cache.flush()
    except BaseException as exc:  # noqa: BLE001 - told to the parent, which stops the batch with it
        outbox.put(("failed", f"a worker failed: {type(exc).__name__}: {exc}"))
        sys.exit(1)
    outbox.put(("ended",))


def _get(inbox: Any, parent: int, most: int) -> list[Any]:
    """The next row (waiting for it), and up to `most` - 1 more that are already there."""
    while True:
        try:
            items = [inbox.get(timeout=POLL_S)]
            break
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(1)
    with contextlib.suppress(queue.Empty):
        while len(items) < most and items[-1] is not None:
            items.append(inbox.get_nowait())
    return items


def _die_with(batch: int) -> int:
    """Ask Linux to kill this worker when its parent dies; returns that parent, for the inbox poll to watch
    (elsewhere it notices within POLL_S). The parent is the fork server, which exits as soon as the batch
    process is gone (a kill -9 of `parallax batch`): the chain ends here."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    parent = os.getppid()
    try:
        os.kill(batch, 0)  # gone before the line above could take effect
    except ProcessLookupError:
        os._exit(1)
    return parent
