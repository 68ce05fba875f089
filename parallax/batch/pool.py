"""Documents through the plan's branches in one process: a fixed pool of tasks pulls (document, branch) jobs
from a bounded queue, each branch run by the one pipeline, at most `concurrency` calls at once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

from parallax.batch.output import Pending, document_row
from parallax.batch.rows import Row
from parallax.limits import RateLimiter, provider_of
from parallax.results import BranchResult, BranchSpec
from parallax.run.execute import run_context
from parallax.run.pipeline import review_branch, translate_branch
from parallax.run.plan import RunPlan
from parallax.translate.assess import assess


async def as_async(rows: Iterator[Row], per_hop: int = 64) -> AsyncIterator[Row]:
    """Rows read in a thread, a few at a time: reading a row may read a document file (a confined child, up to
    its time limit), which must not stall the calls in flight; one thread hop a row would starve them."""
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(rows, per_hop))):
        for row in chunk:
            yield row


Finish = Callable[[Row, list[BranchResult], dict[str, Any]], None]


async def run_documents(plan: RunPlan, rows: AsyncIterator[Row], finish: Finish, concurrency: int,
                        limiters: dict[str, RateLimiter], streamed: bool = False) -> None:
    """Documents through the plan's branches with at most `concurrency` calls at once; each document's row is
    handed to `finish` when its last branch is done. Used by the batch's own process and by each worker."""
    queue: asyncio.Queue[tuple[Pending, BranchSpec] | None] = asyncio.Queue(maxsize=concurrency * 2)
    # Nobody watches a batch arrive: each call asks for its whole reply and reads it once (less CPU a call).
    ctx = replace(run_context(plan), streamed=streamed, calls=asyncio.Semaphore(concurrency))

    async def complete(doc: Pending) -> None:
        if plan.settings is not None:  # translations: agreement and the judge over this document's engines
            assessed = await assess(doc.row.text or "", doc.results, plan.settings, ctx, doc.row.doc_id)
            doc.results, doc.judge_calls = assessed.results, list(assessed.judge_samples)
        doc.results.sort(key=lambda r: r.order)
        finish(doc.row, doc.results, document_row(doc, plan))

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            doc, spec = item
            limiter = limiters.get(provider_of(spec.engine.split("|")[0]))
            if limiter is not None:
                await limiter.wait()
            text = doc.row.text or ""
            result = await (review_branch(ctx, spec, text, _ignore) if plan.settings is None
                            else translate_branch(ctx, spec, text, plan.settings, _ignore))
            doc.results.append(result)
            doc.remaining -= 1
            if doc.remaining == 0:
                await complete(doc)

    async def feed() -> None:
        async for row in rows:
            doc = Pending(row, remaining=len(plan.branches))
            for spec in plan.branches:
                await queue.put((doc, spec))
        for _ in range(concurrency):
            await queue.put(None)

    # Structured concurrency: if a worker fails (a results file that cannot be written, a full disk, a bug), the
    # feeder and the other workers are cancelled and the error reaches the caller: nothing waits forever on a
    # queue no one reads. Rows already written stay in the file.
    async with asyncio.TaskGroup() as group:
        group.create_task(feed())
        for _ in range(concurrency):
            group.create_task(worker())


def _ignore(_event: object) -> None:
    pass
