"""`parallax batch`: a CSV or JSONL file through the same branches, in this process, in workers, or through the
providers' batch APIs (sent, then collected later with --resume)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from parallax.batch.provider import WINDOW
from parallax.config import ConfigError
from parallax.documents import (
    InputError,
)
from parallax.estimate import usd
from parallax.run.failures import describe_failure, plural

if TYPE_CHECKING:  # the heavy parts (LangGraph, SQLAlchemy) are imported by the commands that use them
    from parallax.storage import Store
from parallax.cli.common import (
    EXIT_ALL_FAILED,
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NO_HISTORY,
    EXIT_OK,
    config_from,
    open_history,
    plan_from_args,
    table_lines,
)


def batch_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from parallax.batch.output import check_output
    from parallax.batch.rows import BatchError, count_rows, documents_folder, read_rows
    from parallax.batch.run import run_batch

    if args.resume is not None:
        return collect_main(args.resume, args.poll, out, err)
    try:
        if not (args.input and args.column and args.out):
            raise InputError("a batch needs INPUT, --column and --out (or --resume to collect provider batches)")
        rpm = {}
        for item in args.rpm:
            provider, _, value = item.partition("=")
            if not provider or not value.replace(".", "", 1).isdigit() or float(value) <= 0:
                raise InputError(f"--rpm {item!r}: write PROVIDER=N, e.g. openai=500")
            rpm[provider] = float(value)
        if args.concurrency < 1:
            raise InputError("concurrency must be at least 1")
        if not 1 <= args.workers <= args.concurrency:
            raise InputError(f"--workers must be between 1 and --concurrency ({args.concurrency})")
        if args.workers > 1 and not args.provider_batch:
            from parallax.batch.workers import start_early

            start_early()  # the workers' imports, while this process plans and reads the input
        if args.mode == "translate" and not (args.source and args.target):
            raise InputError("a translate batch needs --source and --target")
        config = config_from(args.config, err)
        args.file, args.command = None, args.mode  # plan as that mode, for the documents to come
        args.reducer = args.reducer or ("best" if args.mode == "translate" else "mean")
        plan = plan_from_args(args, "(each document of the batch)", config)
        path = Path(args.input)
        args.documents = str(documents_folder(path, args.documents))  # kept with a provider batch's job
        rows = read_rows(path, args.column, args.id_column, Path(args.documents))
        total = count_rows(path)
        check_output(Path(args.out))
        if args.json:
            check_output(Path(args.json), "--json")
    except (InputError, ConfigError, BatchError) as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    store = open_history(err)
    plan.cache = store if store is not None and not args.no_cache else None
    if args.provider_batch:
        return submit_main(args, plan, rows, total, store, out, err)
    processes = f" in {args.workers} worker processes" if args.workers > 1 else ""
    size = f"{plural(total, 'document')} × {plural(len(plan.branches), 'branch')}"
    print(f"batch: {size}, {args.concurrency} at once{processes} → {args.out}", file=err, flush=True)

    t0 = time.perf_counter()
    try:
        progress = asyncio.run(run_batch(plan, rows, Path(args.out), total, args.concurrency, rpm, document_line(err),
                                         retry_failed=not args.skip_failed, workers=args.workers))
    except KeyboardInterrupt:
        print(f"parallax: stopped; finished documents are in {args.out} and a rerun resumes from there", file=err)
        return EXIT_INTERRUPTED
    except BatchError as exc:  # a worker failed mid-batch: what was written stays; a rerun resumes
        print(f"parallax: {exc}; finished documents are in {args.out}", file=err)
        return EXIT_ALL_FAILED
    return batch_summary(args, plan, progress, time.perf_counter() - t0, out)


def document_line(err: TextIO) -> Callable[[dict[str, Any], Any], None]:
    """The progress line printed as each document of a batch is written."""

    def on_document(row: dict[str, Any], progress: Any) -> None:
        eta = f"ETA {progress.eta_s:.0f} s" if progress.eta_s is not None else "ETA –"
        line = (f"  [{progress.done}/{progress.total}] {row['status']:<8} {row['id']}  {eta}  "
                f"cost so far {progress.cost.total.text()}")
        if row.get("error") and row["status"] == "invalid":
            line += f"  ({row['error']})"
        print(line, file=err, flush=True)

    return on_document


def batch_summary(args: argparse.Namespace, plan: Any, progress: Any, wall: float, out: TextIO) -> int:
    """The batch's summary (JSON with --json, a table and a line on standard output) and its exit code."""
    from parallax.batch.output import score_summary

    summary = {"documents": progress.total, "done": progress.done, "resumed_from_earlier_run": progress.skipped,
               "failed_or_invalid": progress.failed_rows, "failures_by_cause": progress.failures,
               "answers_from_cache": progress.cached,
               # exact, or null with what is known and how many calls are not (cost.unpriced_calls); the judge in
               # it and on its own (cost.judge)
               "cost_usd": progress.cost.total.usd, "cost": progress.cost.to_dict(), "wall_s": round(wall, 3),
               "branches_per_document": len(plan.branches), "concurrency": args.concurrency,
               "workers": args.workers, "provider_batch": bool(args.provider_batch),
               "out": str(Path(args.out))}
    estimates, comparisons = score_summary(Path(args.out))
    summary["scores"] = {name: e.to_dict() for name, e in estimates.items()}
    summary["comparisons"] = [c.to_dict() for c in comparisons]
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if estimates:
        table = [("branch", "mean [95% CI over documents]", "documents")]
        table += [(name, e.short(), str(e.n)) for name, e in estimates.items()]
        print("\n".join(table_lines(table)), file=out)
        for c in comparisons:
            print(c.describe("documents"), file=out)
    cached = f", {progress.cached} answers from the cache" if progress.cached else ""
    if progress.cost.judge is not None:
        print(f"judge: {progress.cost.judge_text()} (in the cost below)", file=out)
    print(f"{progress.done} of {progress.total} documents done ({progress.skipped} from an earlier run), "
          f"{progress.failed_rows} failed or invalid{cached}, cost {progress.cost.total.text()}, {wall:.1f} s → "
          f"{args.out}", file=out)
    return EXIT_OK if progress.done - progress.failed_rows > 0 else EXIT_ALL_FAILED


PATH_ARGS = ("input", "out", "json", "config", "glossary", "reference", "documents")


def submit_main(args: argparse.Namespace, plan: Any, rows: Any, total: int, store: Store | None, out: TextIO,
                err: TextIO) -> int:
    """Send the batch to the providers' batch APIs, keep the job in the history, then wait and collect (unless
    --no-wait)."""
    from parallax.batch.output import BatchOutput
    from parallax.batch.provider import BATCH_PRICE_FACTOR, batch_engines, describe, submit
    from parallax.batch.rows import sample_texts
    from parallax.estimate import estimate_batch

    try:
        batch_engines(plan)
        if store is None:
            raise InputError("--provider-batch keeps the job in the history, which is unavailable")
    except InputError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    estimate = estimate_batch(plan, sample_texts(Path(args.input), args.column, args.id_column,
                                                Path(args.documents)), total,
                              BATCH_PRICE_FACTOR)
    cost = f", estimated {usd(estimate.cost_usd)} at the batch price" if estimate and estimate.cost_usd else ""
    size = f"{plural(total, 'document')} × {plural(len(plan.branches), 'branch')}"
    print(f"provider batch: {size}{cost} → {args.out}", file=err, flush=True)
    kept = {k: (str(Path(v).resolve()) if k in PATH_ARGS and v else v) for k, v in vars(args).items()
            if k not in ("resume", "poll", "no_wait", "provider_batch")}
    output = BatchOutput(plan, Path(args.out), total, not args.skip_failed, document_line(err))
    try:
        record = asyncio.run(submit(plan, output.to_run(rows), store, Path(args.out), kept))
    except Exception as exc:  # every part refused: nothing was sent, nothing is waiting
        print(f"parallax: the provider batch could not be sent: {describe_failure(exc, 'provider', 1)}", file=err)
        return EXIT_ALL_FAILED
    finally:
        output.close()
    print(f"provider batch {record['job_id']} sent ({describe(record['parts'])}); {WINDOW}, at half the price",
          file=err, flush=True)
    if args.no_wait:
        print(f"collect the results later with: parallax batch --resume {record['job_id']}", file=out)
        return EXIT_OK
    return collect_main(record["job_id"], args.poll, out, err)


def collect_main(job_id: str, poll_s: float, out: TextIO, err: TextIO) -> int:
    """Wait for provider batches sent earlier (all waiting ones, or `job_id`) and write their results."""
    from parallax.batch.provider import collect_job, not_sealed, sealed
    from parallax.batch.rows import BatchError

    store = open_history(err, "provider batches are kept there")
    if store is None:
        return EXIT_NO_HISTORY
    records = [r for r in store.provider_batches() if job_id in ("", r["job_id"])]
    if not records:
        print(f"parallax: no provider batch {job_id + ' ' if job_id else ''}is waiting to be collected", file=err)
        return EXIT_BAD_INPUT
    code = EXIT_OK
    for record in records:
        if not sealed(record):  # shown, never collected: it could name any file to read or write
            print(f"parallax: {not_sealed(record)}", file=err)
            code = EXIT_BAD_INPUT
            continue
        # A job sent from the page stores only what the page sets: the summary's other options get defaults.
        args = argparse.Namespace(**{"workers": 1, "json": None, **record["job"]["args"], "provider_batch": True})
        print(f"provider batch {record['job_id']} → {args.out}; {WINDOW}", file=err, flush=True)
        t0 = time.perf_counter()
        try:
            collected = collect_job(record, store, lambda line: print(f"  {line}", file=err, flush=True),
                                    document_line(err), poll_s)
        except (InputError, ConfigError, BatchError) as exc:
            print(f"parallax: provider batch {record['job_id']}: {exc}", file=err)
            code = EXIT_BAD_INPUT
            continue
        except KeyboardInterrupt:
            print(f"parallax: stopped; the batch goes on at the provider: collect it with "
                  f"'parallax batch --resume {record['job_id']}'", file=err)
            return EXIT_INTERRUPTED
        assert collected is not None  # waited until the end
        plan, progress = collected
        code = max(code, batch_summary(args, plan, progress, time.perf_counter() - t0, out))
    return code
