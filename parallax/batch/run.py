"""Running a batch: in this process or in worker processes, near the concurrency-bound ideal, in flat memory."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from parallax.batch.output import BatchOutput, BatchProgress
from parallax.batch.pool import as_async, run_documents
from parallax.batch.rows import BatchError, Row
from parallax.limits import RateLimiter
from parallax.run.plan import RunPlan
from parallax.storage import GroupedCache, Store


async def run_batch(
    plan: RunPlan,
    rows: Iterator[Row],
    out: Path,
    total: int,
    concurrency: int = 32,
    rpm: dict[str, float] | None = None,
    on_document: Callable[[dict[str, Any], BatchProgress], None] | None = None,
    retry_failed: bool = True,
    workers: int = 1,
    streamed: bool = False,
) -> BatchProgress:
    """Run every row's document through the plan's branches with at most `concurrency` calls at once, in this
    process or in `workers` processes (the calls at once and the rate limits shared between them).

    One writer, here, whatever the number of workers: a document is written once all its branches are done, so
    after a kill the results file holds whole documents only and a rerun runs exactly the others."""
    if workers < 1 or workers > concurrency:
        raise BatchError(f"workers must be between 1 and the calls at once ({concurrency})")
    output = BatchOutput(plan, out, total, retry_failed, on_document)
    try:
        if workers == 1:
            limiters = {p: RateLimiter(n) for p, n in (rpm or {}).items()}
            cache = GroupedCache(plan.cache) if isinstance(plan.cache, Store) else plan.cache
            try:
                await run_documents(replace(plan, cache=cache), as_async(output.to_run(rows)), output.finish,
                                    concurrency, limiters, streamed)
            finally:
                if isinstance(cache, GroupedCache):
                    await asyncio.to_thread(cache.flush)
        else:
            from parallax.batch.workers import in_processes

            await in_processes(plan, output.to_run(rows), output.record, workers, concurrency, rpm or {}, streamed)
    except BaseExceptionGroup as failed:
        raise BatchError(f"the batch stopped: {_first_cause(failed)}") from failed.exceptions[0]
    finally:
        output.close()
    return output.progress


def _first_cause(group: BaseExceptionGroup) -> str:  # type: ignore[type-arg]
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc.strerror or exc)
    return f"{type(exc).__name__}: {exc}"


def ideal_seconds(documents: int, branches: int, concurrency: int, latency_s: float) -> float:
    return math.ceil(documents * branches / concurrency) * latency_s
