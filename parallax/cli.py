"""`python -m parallax review ...`: run a review from the command line; progress on stderr, a summary on stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from .config import DEFAULT_TIMEOUT_S, ConfigError, load_config
from .documents import InputError, decode_document
from .export import to_csv, to_json
from .reducers import REDUCERS
from .run import OnEvent, RunEvent, RunOutcome, RunPlan, execute, plan_review
from .runner import BranchFinished, BranchRestarted, BranchStarted

EXIT_OK, EXIT_ALL_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m parallax", description="Run one text through several AI branches at once.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    review = sub.add_parser("review", help="review a text from several perspectives with one or more engines")
    review.add_argument("file", nargs="?", help="a UTF-8 text file, or - for standard input")
    review.add_argument(
        "--perspective",
        "-p",
        action="append",
        default=[],
        metavar="NAME",
        help="technical, business, legal or a custom one (repeatable; default: the three built-ins)",
    )
    review.add_argument(
        "--engine",
        "-e",
        action="append",
        default=[],
        metavar="ID",
        help="e.g. openai:gpt-4o-mini, anthropic:claude-haiku-4-5, offline:rules, sim:demo (repeatable)",
    )
    review.add_argument("--reducer", default="mean", choices=sorted(REDUCERS), help="how branch scores merge")
    review.add_argument("--concurrency", type=int, metavar="N", help="at most N branches at once (default: all)")
    review.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"wall-clock deadline per branch in seconds (default {DEFAULT_TIMEOUT_S:g})",
    )
    review.add_argument("--config", metavar="PATH", help="parallax.toml with named engines, perspectives, prices")
    review.add_argument("--json", metavar="PATH", help="write the full result as JSON")
    review.add_argument("--csv", metavar="PATH", help="write one row per branch as CSV")
    return parser


def read_input(file: str | None, stdin: TextIO) -> str:
    if file in (None, "-"):
        if file is None and stdin.isatty():
            raise InputError("give a FILE to review, or pipe text on standard input (-)")
        return decode_document(
            stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode(), "standard input"
        )
    path = Path(file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{file} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{file}: cannot read it ({exc.strerror})") from None
    return decode_document(data, file)


def _progress(err: TextIO, total: int) -> OnEvent:
    def on_event(event: RunEvent, outcome: RunOutcome) -> None:
        if isinstance(event, BranchStarted):
            print(f"  started   {event.branch_id}", file=err, flush=True)
        elif isinstance(event, BranchRestarted):
            print(f"  re-asked  {event.branch_id}: {event.reason}", file=err, flush=True)
        elif isinstance(event, BranchFinished):
            r = event.result
            detail = f"score {r.score:g}" if r.score is not None else (r.error or "")
            print(
                f"  [{len(outcome.results)}/{total}] {r.status:<9} {r.branch_id}  {detail}"
                f"  ({(r.latency_ms or 0) / 1000:.1f} s)",
                file=err,
                flush=True,
            )

    return on_event


def _fmt(value: float | int | None, spec: str = "g") -> str:
    return "-" if value is None else format(value, spec)


def summary_table(outcome: RunOutcome) -> str:
    header = ("perspective", "engine", "status", "score", "latency_s", "ttft_s", "tokens", "cost_usd", "retries")
    rows = [header]
    for r in outcome.ordered():
        tokens = "-" if r.output_tokens is None else f"{_fmt(r.input_tokens)}/{r.output_tokens}"
        rows.append(
            (
                r.perspective,
                r.engine,
                r.status,
                _fmt(r.score),
                _fmt(r.latency_ms and r.latency_ms / 1000, ".2f"),
                _fmt(r.ttft_ms and r.ttft_ms / 1000, ".2f"),
                tokens,
                _fmt(r.cost_usd, ".6f"),
                str(r.retries),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    a = outcome.aggregate
    if a is not None:
        score = "none (no branch succeeded)" if a.score is None else f"{a.score:.2f}"
        lines.append(
            f"\naggregate ({a.method}): {score} — {a.n_ok} of {a.n_total} succeeded"
            + (f", spread {a.spread:g}" if a.spread is not None else "")
        )
        lines.append(f"formula: {a.formula}")
    for r in outcome.ordered():
        if r.error:
            lines.append(f"{r.branch_id}: {r.error}")
    if outcome.wall_ms is not None:
        lines.append(f"wall time: {outcome.wall_ms / 1000:.2f} s")
    return "\n".join(lines)


def write_exports(outcome: RunOutcome, json_path: str | None, csv_path: str | None) -> None:
    if json_path:
        Path(json_path).write_text(to_json(outcome), encoding="utf-8")
    if csv_path:
        Path(csv_path).write_text(to_csv(outcome), encoding="utf-8", newline="")


def main(
    argv: list[str] | None = None, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    try:
        config = load_config(args.config)
        text = read_input(args.file, stdin)
        plan: RunPlan = plan_review(
            text, config, args.perspective, args.engine, args.reducer, args.concurrency, args.timeout
        )
    except (InputError, ConfigError) as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    engines = ", ".join(plan.engines)
    print(f"run {plan.run_id}: {len(plan.branches)} branches ({engines})", file=err, flush=True)
    outcome = RunOutcome.for_plan(plan)
    try:
        asyncio.run(execute(plan, _progress(err, len(plan.branches)), outcome))
    except KeyboardInterrupt:
        print("parallax: stopped; unfinished branches were cancelled", file=err)
        write_exports(outcome, args.json, args.csv)
        print(summary_table(outcome), file=out)
        return EXIT_INTERRUPTED
    write_exports(outcome, args.json, args.csv)
    print(summary_table(outcome), file=out)
    return EXIT_OK if outcome.aggregate and outcome.aggregate.n_ok > 0 else EXIT_ALL_FAILED
