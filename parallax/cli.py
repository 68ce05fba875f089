"""`python -m parallax review|translate ...`: progress on stderr, a summary on stdout, exports on request."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from . import __version__
from .config import DEFAULT_TIMEOUT_S, Config, ConfigError, load_config
from .documents import (
    InputError,
    byte_limit,
    check_document,
    check_size,
    decode_document,
    read_document,
    read_file,
)
from .estimate import usd
from .provider_batch import POLL_S, WINDOW
from .reducers import REDUCERS
from .results import RUN_STATUSES
from .runner import BranchFinished, BranchRestarted, BranchStarted, describe_failure, plural

if TYPE_CHECKING:  # the heavy parts (LangGraph, SQLAlchemy) are imported by the commands that use them
    from .run import OnEvent, RunEvent, RunOutcome, RunPlan
    from .storage import Store

EXIT_OK, EXIT_ALL_FAILED, EXIT_BAD_INPUT, EXIT_NO_HISTORY, EXIT_BELOW, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EPILOG = """exit codes:
  0    done: at least one branch (in a batch: one document) succeeded
  1    every branch failed (or an engine check failed)
  2    bad input: nothing was called (unreadable file, unknown engine, an output path that cannot be written)
  3    the history database cannot be reached (history commands)
  4    the aggregate score is below --fail-under, or there is none (for CI pipelines)
  130  stopped with Ctrl-C: finished branches are kept

environment:
  OPENAI_API_KEY, ANTHROPIC_API_KEY, DEEPL_AUTH_KEY, LIBRETRANSLATE_URL   engines' keys and servers
  OPENAI_BASE_URL, ANTHROPIC_BASE_URL, DEEPL_SERVER_URL                  other servers for those providers
  PARALLAX_CONFIG         parallax.toml (default ./parallax.toml)
  PARALLAX_DATABASE_URL   the history (default sqlite in ~/.parallax/history.db; PARALLAX_HOME moves it)
  PARALLAX_MAX_CHARS, PARALLAX_CHUNK_CHARS   the text size limit, the chunk size of long documents"""


# Escape sequences (CSI, OSC — window titles, OSC-8 hyperlinks —, other ESC pairs) and control characters but
# tab and newline: model text and file content printed to a terminal must not drive it.
_TERMINAL_CONTROL = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def terminal_safe(text: str) -> str:
    return _TERMINAL_CONTROL.sub("", text)


class TerminalSafe(io.TextIOBase):
    """A text stream that writes through `terminal_safe`: everything the command prints goes through it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


FILE_HELP = "a document (.txt, .md, .pdf, .docx, .html, .odt), or - for UTF-8 text on standard input"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see --help)")


def _common(parser: argparse.ArgumentParser, engine_help: str, reducer: str) -> None:
    parser.add_argument("file", nargs="?", help=FILE_HELP)
    parser.add_argument("--engine", "-e", action="append", default=[], metavar="ID", help=engine_help)
    parser.add_argument("--reducer", default=reducer, choices=sorted(REDUCERS),
                        help=f"how branch scores merge (default {reducer})")
    parser.add_argument("--concurrency", type=int, metavar="N", help="at most N branches at once (default: all)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"wall-clock deadline per branch in seconds (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--config", metavar="PATH", help="parallax.toml with named engines, perspectives, prices")
    parser.add_argument("--json", metavar="PATH", help="write the full result as JSON")
    parser.add_argument("--csv", metavar="PATH", help="write one row per branch as CSV")
    parser.add_argument("--xlsx", metavar="PATH", help="write a workbook: branches, aggregate and issues sheets")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the result as CSV, JSON or XLSX, chosen by FILE's extension; - writes the JSON "
                             "to standard output (the summary then goes to standard error)")
    parser.add_argument("--no-input-in-json", action="store_true",
                        help="the JSON keeps the input's SHA-256 and length instead of the text itself")
    parser.add_argument("--no-cache", action="store_true", help="call the providers even for identical calls")
    parser.add_argument("--fail-under", type=float, metavar="SCORE",
                        help="exit 4 when the aggregate score is below SCORE (or there is none): a gate for CI")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="parallax", description="Run one text through several AI branches at once.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"parallax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    app = sub.add_parser("app", help="start the web app (from any folder; keys from the environment or "
                                     ".streamlit/secrets.toml here or in ~/.streamlit)")
    app.add_argument("--port", type=int, default=8501, help="the port to serve on (default 8501)")
    app.epilog = "Any other option goes to `streamlit run`, e.g. --server.address=0.0.0.0 to serve a team."
    review = sub.add_parser("review", help="review a text from several perspectives with one or more engines")
    _common(review, "e.g. openai:gpt-4o-mini, anthropic:claude-haiku-4-5, offline:rules, sim:demo (repeatable)",
            "mean")
    review.add_argument("--perspective", "-p", action="append", default=[], metavar="NAME",
                        help="technical, business, legal or a custom one (repeatable; default: the three built-ins)")
    review.add_argument("--samples", type=int, default=1, metavar="K",
                        help="ask each branch K times (1-5): its score is the mean, with sd and a 95%% interval "
                             "(3 or more), and select-best says when a lead is only noise")
    translate = sub.add_parser("translate", help="translate a text with several engines and compare them")
    _common(translate, "e.g. deepl, libretranslate, openai:gpt-4o-mini, offline:pseudo, or a chain A|B|C "
                       "(repeatable)", "best")
    translate.add_argument("--source", required=True, metavar="LANG", help="source language code, e.g. en")
    translate.add_argument("--target", required=True, metavar="LANG", help="target language code, e.g. de")
    translate.add_argument("--judge", metavar="ID", help="the LLM engine that judges (default: the first configured)")
    translate.add_argument("--no-judge", action="store_true", help="compare by agreement only")
    translate.add_argument("--judge-samples", type=int, default=1, metavar="K",
                           help="judge K times (1-5); 3 or more give 95%% intervals and test the best one's lead")
    translate.add_argument("--judge-protocol", choices=["compare", "single"], default="compare",
                           help="compare: all translations in one prompt, positions rotated across samples; "
                                "single: one translation per prompt (GEMBA-MQM's own protocol)")
    translate.add_argument("--reference", metavar="FILE", help="a reference translation: adds chrF and BLEU")
    translate.add_argument("--glossary", metavar="FILE", help="required term translations: 'term,translation' lines")
    translate.add_argument("--tone", default="", help="e.g. formal, friendly")
    batch = sub.add_parser("batch", help="run every document of a CSV or JSONL file (resumes an interrupted run)")
    batch.add_argument("input", nargs="?", help="a .csv or .jsonl file")
    batch.add_argument("--column", metavar="NAME", help="the column (or JSON field) with the text (required)")
    batch.add_argument("--id-column", metavar="NAME", help="kept in the output (default: 'id' if present)")
    batch.add_argument("--documents", metavar="DIR",
                       help="the folder that 'path' cells may name files in, or below (default: the input file's "
                            "folder); any other file is refused")
    batch.add_argument("--mode", choices=["review", "translate"], default="review")
    batch.add_argument("--out", metavar="PATH", help="results CSV, one row per document (required)")
    batch.add_argument("--provider-batch", action="store_true",
                       help="send the calls through the providers' batch APIs (OpenAI Batch, Anthropic Message "
                            f"Batches): half the price, {WINDOW}; the job is kept in the history")
    batch.add_argument("--no-wait", action="store_true", help="with --provider-batch: send, then return at once")
    batch.add_argument("--resume", nargs="?", const="", metavar="JOB",
                       help="collect provider batches sent earlier (all waiting ones, or JOB) into their results "
                            "files, waiting until they end")
    batch.add_argument("--poll", type=float, default=POLL_S, metavar="S", help=argparse.SUPPRESS)
    batch.add_argument("--json", metavar="PATH", help="a summary of the batch as JSON")
    batch.add_argument("--engine", "-e", action="append", default=[], metavar="ID")
    batch.add_argument("--perspective", "-p", action="append", default=[], metavar="NAME")
    batch.add_argument("--reducer", choices=sorted(REDUCERS))
    batch.add_argument("--concurrency", type=int, default=32, metavar="N", help="calls at once (default 32)")
    batch.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes sharing the calls at once and the rate limits (default 1; one "
                            "process uses about one core)")
    batch.add_argument("--rpm", action="append", default=[], metavar="PROVIDER=N",
                       help="at most N requests a minute to PROVIDER (e.g. openai=500); repeatable")
    batch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S")
    batch.add_argument("--config", metavar="PATH")
    batch.add_argument("--no-cache", action="store_true")
    batch.add_argument("--skip-failed", action="store_true",
                       help="on resume, keep documents that failed in an earlier run (default: run them again)")
    batch.add_argument("--source", metavar="LANG")
    batch.add_argument("--target", metavar="LANG")
    batch.add_argument("--judge", metavar="ID")
    batch.add_argument("--no-judge", action="store_true")
    batch.add_argument("--judge-samples", type=int, default=1, metavar="K")
    batch.add_argument("--judge-protocol", choices=["compare", "single"], default="compare")
    batch.add_argument("--samples", type=int, default=1, metavar="K", help="reviews: ask each branch K times")
    batch.add_argument("--glossary", metavar="FILE")
    batch.add_argument("--reference", metavar="FILE", help=argparse.SUPPRESS)
    batch.add_argument("--tone", default="")
    suggest = sub.add_parser("suggest", help="propose perspectives that fit a text (as TOML for parallax.toml)")
    suggest.add_argument("file", nargs="?", help=FILE_HELP)
    suggest.add_argument("--engine", "-e", metavar="ID", help="the LLM that proposes (default: offline rules)")
    suggest.add_argument("--config", metavar="PATH")
    engines = sub.add_parser("engines", help="the configured engines; --check sends each one tiny request")
    engines.add_argument("engine_ids", nargs="*", metavar="ID",
                         help="engines to list or check (default: all configured)")
    engines.add_argument("--check", action="store_true",
                         help="send one tiny structured request to each and show what worked (mode, latency, tokens)")
    engines.add_argument("--timeout", type=float, default=60.0, metavar="S", help="deadline per engine (default 60)")
    engines.add_argument("--config", metavar="PATH")
    history = sub.add_parser("history", help="past runs (PARALLAX_DATABASE_URL, default ~/.parallax/history.db)")
    actions = history.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = actions.add_parser("list", help="the latest runs")
    listing.add_argument("--mode", choices=["review", "translate"])
    listing.add_argument("--status", choices=list(RUN_STATUSES))
    listing.add_argument("--search", metavar="TEXT", help="runs whose text contains TEXT")
    listing.add_argument("--engine", metavar="ID", help="runs that used this engine")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", metavar="PATH")
    for name, text in (("show", "one run, as a summary"), ("export", "write a run's CSV or JSON"),
                       ("retry", "rerun only the branches that did not succeed"), ("delete", "delete a run")):
        action = actions.add_parser(name, help=text)
        action.add_argument("run_id", metavar="RUN_ID")
        if name != "delete":
            action.add_argument("--json", metavar="PATH")
        if name == "export":
            action.add_argument("--csv", metavar="PATH")
            action.add_argument("--xlsx", metavar="PATH")
        if name == "retry":
            action.add_argument("--no-cache", action="store_true")
            action.add_argument("--csv", metavar="PATH")
            action.add_argument("--config", metavar="PATH")
    return parser


def read_input(file: str | None, stdin: TextIO) -> str:
    if file in (None, "-"):
        if file is None and stdin.isatty():
            raise InputError("give a FILE, or pipe text on standard input (-)")
        limit = byte_limit()
        data = stdin.buffer.read(limit + 1) if hasattr(stdin, "buffer") else stdin.read(limit + 1).encode()
        check_size(len(data), "standard input")  # read no further than the limit
        return decode_document(data, "standard input")
    return read_document(read_file(file), file).text


def _plan(args: argparse.Namespace, text: str, config: Config) -> RunPlan:
    from .run import plan_from_options

    return plan_from_options(vars(args), text, config)


def batch_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .batch import BatchError, check_output, count_rows, documents_folder, read_rows, run_batch

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
            from .workers import start_early

            start_early()  # the workers' imports, while this process plans and reads the input
        if args.mode == "translate" and not (args.source and args.target):
            raise InputError("a translate batch needs --source and --target")
        config = _load_config(args.config, err)
        args.file, args.command = None, args.mode  # plan as that mode, for the documents to come
        args.reducer = args.reducer or ("best" if args.mode == "translate" else "mean")
        plan = _plan(args, "(each document of the batch)", config)
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
    store = _store(err)
    plan.cache = store if store is not None and not args.no_cache else None
    if args.provider_batch:
        return submit_main(args, plan, rows, total, store, out, err)
    processes = f" in {args.workers} worker processes" if args.workers > 1 else ""
    size = f"{plural(total, 'document')} × {plural(len(plan.branches), 'branch')}"
    print(f"batch: {size}, {args.concurrency} at once{processes} → {args.out}", file=err, flush=True)

    t0 = time.perf_counter()
    try:
        progress = asyncio.run(run_batch(plan, rows, Path(args.out), total, args.concurrency, rpm, _document_line(err),
                                         retry_failed=not args.skip_failed, workers=args.workers))
    except KeyboardInterrupt:
        print(f"parallax: stopped; finished documents are in {args.out} and a rerun resumes from there", file=err)
        return EXIT_INTERRUPTED
    except BatchError as exc:  # a worker failed mid-batch: what was written stays; a rerun resumes
        print(f"parallax: {exc}; finished documents are in {args.out}", file=err)
        return EXIT_ALL_FAILED
    return _batch_summary(args, plan, progress, time.perf_counter() - t0, out)


def _document_line(err: TextIO) -> Callable[[dict[str, Any], Any], None]:
    """The progress line printed as each document of a batch is written."""

    def on_document(row: dict[str, Any], progress: Any) -> None:
        eta = f"ETA {progress.eta_s:.0f} s" if progress.eta_s is not None else "ETA –"
        line = (f"  [{progress.done}/{progress.total}] {row['status']:<8} {row['id']}  {eta}  "
                f"cost so far {usd(progress.cost_usd)}")
        if row.get("error") and row["status"] == "invalid":
            line += f"  ({row['error']})"
        print(line, file=err, flush=True)

    return on_document


def _batch_summary(args: argparse.Namespace, plan: Any, progress: Any, wall: float, out: TextIO) -> int:
    """The batch's summary (JSON with --json, a table and a line on standard output) and its exit code."""
    from .batch import score_summary

    summary = {"documents": progress.total, "done": progress.done, "resumed_from_earlier_run": progress.skipped,
               "failed_or_invalid": progress.failed_rows, "failures_by_cause": progress.failures,
               "answers_from_cache": progress.cached,
               "cost_usd": round(progress.cost_usd, 8), "wall_s": round(wall, 3),
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
        print("\n".join(_table(table)), file=out)
        for c in comparisons:
            print(c.describe(), file=out)
    cached = f", {progress.cached} answers from the cache" if progress.cached else ""
    print(f"{progress.done} of {progress.total} documents done ({progress.skipped} from an earlier run), "
          f"{progress.failed_rows} failed or invalid{cached}, cost {usd(progress.cost_usd)}, {wall:.1f} s → "
          f"{args.out}", file=out)
    return EXIT_OK if progress.done - progress.failed_rows > 0 else EXIT_ALL_FAILED


_PATH_ARGS = ("input", "out", "json", "config", "glossary", "reference", "documents")


def submit_main(args: argparse.Namespace, plan: Any, rows: Any, total: int, store: Store | None, out: TextIO,
                err: TextIO) -> int:
    """Send the batch to the providers' batch APIs, keep the job in the history, then wait and collect (unless
    --no-wait)."""
    from .batch import BatchOutput, sample_texts
    from .estimate import estimate_batch
    from .provider_batch import BATCH_PRICE_FACTOR, batch_engines, describe, submit

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
    kept = {k: (str(Path(v).resolve()) if k in _PATH_ARGS and v else v) for k, v in vars(args).items()
            if k not in ("resume", "poll", "no_wait", "provider_batch")}
    output = BatchOutput(plan, Path(args.out), total, not args.skip_failed, _document_line(err))
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
    from .batch import BatchError
    from .provider_batch import collect_job, not_sealed, sealed

    store = _store(err, "provider batches are kept there")
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
                                    _document_line(err), poll_s)
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
        code = max(code, _batch_summary(args, plan, progress, time.perf_counter() - t0, out))
    return code


def suggest_main(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from .suggest import suggest_perspectives

    try:
        config = _load_config(args.config, err)
        text = check_document(read_input(args.file, stdin))
        suggestions, note = asyncio.run(suggest_perspectives(text, config, args.engine))
    except (InputError, ConfigError, ValueError) as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    if note:
        print(f"parallax: {note}", file=err)
    for s in suggestions:  # TOML to paste into parallax.toml (JSON strings are valid TOML basic strings)
        p = s.perspective
        print(f"# {s.why}\n[perspectives.{p.name}]\ndescription = {json.dumps(p.description)}\n"
              f"rubric = {json.dumps(p.rubric)}\nweight = 1\n", file=out)
    return EXIT_OK


def _progress(err: TextIO, total: int) -> OnEvent:
    def on_event(event: RunEvent, outcome: RunOutcome) -> None:
        if isinstance(event, BranchStarted):
            print(f"  started   {event.branch_id}", file=err, flush=True)
        elif isinstance(event, BranchRestarted):
            print(f"  again     {event.branch_id}: {event.reason}", file=err, flush=True)
        elif isinstance(event, BranchFinished):
            r = event.result
            detail = f"score {r.score:g}" if r.score is not None else (r.error or "")
            print(f"  [{len(outcome.results)}/{total}] {r.status:<9} {r.branch_id}  {detail}"
                  f"  ({(r.latency_ms or 0) / 1000:.1f} s)", file=err, flush=True)

    return on_event


def _fmt(value: float | int | None, spec: str = "g") -> str:
    return "-" if value is None else format(value, spec)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def summary_table(outcome: RunOutcome) -> str:
    translate = outcome.mode == "translate"
    header: tuple[str, ...] = (("engine", "status", "judge [95% CI]", "non_translation", "agreement", "answered_by")
                               if translate else ("perspective", "engine", "status", "score", "confidence"))
    rows = [header + ("latency_s", "ttft_s", "tokens", "cost", "retries")]
    for r in outcome.ordered():
        tokens = "-" if r.output_tokens is None else f"{_fmt(r.input_tokens)}/{r.output_tokens}"
        found = r.estimate
        score = "-" if found is None else found.short()
        if translate:
            agreement = _fmt(r.agreement) + (" outlier" if r.outlier else "")
            first: tuple[str, ...] = (r.engine, r.status, score, r.non_translation or "-", agreement,
                                      r.answered_by or "-")
        else:
            first = (r.perspective, r.engine, r.status, score, _fmt(r.confidence))
        rows.append(first + (_fmt(r.latency_ms and r.latency_ms / 1000, ".2f"),
                             _fmt(r.ttft_ms and r.ttft_ms / 1000, ".2f"), tokens, usd(r.cost_usd),
                             str(r.retries)))
    lines = _table(rows)
    a = outcome.aggregate
    if a is not None:
        score = "none (no branch succeeded)" if a.score is None else f"{a.score:.2f}"
        lines.append(f"\naggregate ({a.method}): {score} — {a.counts(outcome.mode)}"
                     + (f", spread {a.spread:g}" if a.spread is not None else ""))
        lines.append(f"formula: {a.formula}")
        if a.verdict():
            lines.append(f"verdict: {a.verdict()}")
    effect = outcome.assessment.position_effect if outcome.assessment else {}
    if effect:
        lines.append("judge position effect (score at a position minus the candidate's mean): "
                     + ", ".join(f"{label} {value:+g}" for label, value in effect.items()))
    best = outcome.results.get(a.best) if a and a.best else None
    if best is not None and translate:
        title = "leading translation (no clear winner)" if a and a.confident is False else "best translation"
        lines.append(f"\n{title} ({best.branch_id}):\n{best.text}")
    for r in outcome.ordered():
        if r.error or r.judge_error:
            lines.append(f"{r.branch_id}: {r.error or r.judge_error}")
        for failure in r.fallbacks:
            lines.append(f"{r.branch_id}: {failure['engine']} failed first ({failure['error']})")
    if outcome.wall_ms is not None:
        lines.append(f"wall time: {outcome.wall_ms / 1000:.2f} s")
    return "\n".join(lines)


OUTPUT_FORMATS = {".csv": "csv", ".json": "json", ".xlsx": "xlsx"}


def _output_format(path: str | None) -> str | None:
    """-o FILE: the format its extension names (checked before anything runs)."""
    if path is None:
        return None
    if path == "-":
        return "json"
    found = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise InputError(f"-o {path}: name a .csv, .json or .xlsx file (or - for JSON on standard output)")
    return found


def write_exports(outcome: RunOutcome, args: argparse.Namespace, out: TextIO | None = None) -> None:
    """--json, --csv, --xlsx and -o FILE, whichever were given."""
    from .export import to_csv, to_json, to_xlsx

    output = getattr(args, "output", None)
    if output == "-" and out is not None:
        out.write(to_json(outcome, not getattr(args, "no_input_in_json", False)) + "\n")
    elif output:
        setattr(args, _output_format(output) or "json", output)

    if getattr(args, "json", None):
        Path(args.json).write_text(to_json(outcome, not getattr(args, "no_input_in_json", False)),
                                   encoding="utf-8")
    if getattr(args, "csv", None):
        Path(args.csv).write_text(to_csv(outcome), encoding="utf-8", newline="")
    if getattr(args, "xlsx", None):
        Path(args.xlsx).write_bytes(to_xlsx(outcome))


def main(argv: list[str] | None = None, stdin: TextIO | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out, err = cast(TextIO, TerminalSafe(out or sys.stdout)), cast(TextIO, TerminalSafe(err or sys.stderr))
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if args.command == "app":
            args.streamlit_options = unknown  # handed to `streamlit run`
        elif unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except _UsageError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    if args.command == "app":
        return app_main(args, err)
    if args.command == "history":
        return history_main(args, out, err)
    if args.command == "batch":
        return batch_main(args, out, err)
    if args.command == "suggest":
        return suggest_main(args, stdin, out, err)
    if args.command == "engines":
        return engines_main(args, out, err)
    try:
        config = _load_config(args.config, err)
        _output_format(args.output)
        plan = _plan(args, read_input(args.file, stdin), config)
    except (InputError, ConfigError) as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    print(f"run {plan.run_id}: {len(plan.branches)} branches ({', '.join(plan.engines)})", file=err, flush=True)
    from .history import record
    from .run import RunOutcome, execute

    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, _store(err), use_cache=not args.no_cache)
    try:
        asyncio.run(execute(plan, _progress(err, len(plan.branches)), outcome))
    except KeyboardInterrupt:
        print("parallax: stopped; unfinished branches were cancelled", file=err)
        write_exports(outcome, args, out)
        print(summary_table(outcome), file=err if args.output == "-" else out)
        return EXIT_INTERRUPTED
    write_exports(outcome, args, out)
    print(summary_table(outcome), file=err if args.output == "-" else out)
    if outcome.storage_warning:
        print(f"parallax: {outcome.storage_warning}", file=err)
    if not (outcome.aggregate and outcome.aggregate.n_ok > 0):
        return EXIT_ALL_FAILED
    score = outcome.aggregate.score
    if args.fail_under is not None and (score is None or score < args.fail_under):
        print(f"parallax: the aggregate score {'(none)' if score is None else f'{score:.2f}'} is below "
              f"--fail-under {args.fail_under:g}", file=err)
        return EXIT_BELOW
    return EXIT_OK


def engines_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = _load_config(args.config, err)
    except ConfigError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    from .check import check_engines, configured_engines

    for variable in config.placeholder_keys():
        print(f"parallax: {variable} holds a placeholder, not a key (an example file copied unedited?): not used",
              file=err)
    listed = configured_engines(config)
    rows: list[tuple[str, ...]]
    if not args.check:
        chosen = [e for e in listed if not args.engine_ids or e.engine_id in args.engine_ids]
        rows = [("engine", "where", "settings")]
        rows += [(e.engine_id, e.where, e.settings) for e in chosen]
        print("\n".join(_table(rows)), file=out)
        return EXIT_OK
    ids = args.engine_ids or [e.engine_id for e in listed]
    print(f"checking {len(ids)} engine(s) with one tiny request each…", file=err, flush=True)
    results = asyncio.run(check_engines(config, ids, args.timeout))
    rows = [("engine", "status", "structured", "latency_s", "tokens", "detail")]
    for r in results:
        tokens = "-" if r.output_tokens is None else f"{_fmt(r.input_tokens)}/{r.output_tokens}"
        detail = r.error or (f"score {r.score:g}" if r.score is not None else "answered")
        rows.append((r.engine, r.status, r.structured_mode or "-", _fmt(r.latency_ms and r.latency_ms / 1000, ".2f"),
                     tokens, detail))
    print("\n".join(_table(rows)), file=out)
    return EXIT_OK if all(r.status == "ok" for r in results) else EXIT_ALL_FAILED


def _load_config(path: str | None, err: TextIO) -> Config:
    """The configuration; a parallax.toml found in the working folder (not named with --config or
    PARALLAX_CONFIG) that defines engines is named on standard error, with the servers its engines call."""
    config = load_config(path)
    notice = config.working_folder_notice()
    if notice:
        print(f"parallax: {notice}", file=err, flush=True)
    return config


def _store(err: TextIO, consequence: str = "results are shown but not saved") -> Store | None:
    """The history database, with runs left `running` by a killed process marked interrupted; None if down."""
    from .storage import StorageError, open_store

    try:
        store = open_store()
        store.mark_interrupted()
        return store
    except StorageError as exc:
        print(f"parallax: {exc}; {consequence}", file=err)
        return None


def history_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .history import outcome_from_record, retry_failed
    from .storage import StorageError

    store = _store(err, f"the history cannot be read now (exit {EXIT_NO_HISTORY}); check PARALLAX_DATABASE_URL")
    if store is None:
        return EXIT_NO_HISTORY
    try:
        if args.action == "list":
            runs = store.list_runs(args.mode, args.status, args.search, args.engine, limit=args.limit)
            if args.json:
                Path(args.json).write_text(json.dumps(runs, ensure_ascii=False, indent=2), encoding="utf-8")
            rows = [("run_id", "created_at", "mode", "status", "review_score", "translation_score", "ok", "engines",
                     "text")]
            rows += [(r["run_id"], r["created_at"][:19], r["mode"], r["status"], _fmt(r["review_score"]),
                      _fmt(r["translation_score"]),
                      f"{r['n_ok'] if r['n_ok'] is not None else '-'}/{r['n_total']}", r["engines"][:40],
                      r["text"][:40].replace("\n", " ")) for r in runs]
            print("\n".join(_table(rows)) if runs else "no runs in the history yet", file=out)
            return EXIT_OK
        if args.action == "delete":
            if not store.delete_run(args.run_id):
                print(f"parallax: no run {args.run_id!r} in the history", file=err)
                return EXIT_BAD_INPUT
            print(f"deleted {args.run_id}", file=out)
            return EXIT_OK
        if args.action == "retry":
            outcome = asyncio.run(retry_failed(args.run_id, store, _load_config(args.config, err), not args.no_cache))
        else:
            outcome = outcome_from_record(store.load_run(args.run_id))
    except StorageError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    except (InputError, ConfigError) as exc:
        print(f"parallax: cannot retry: {exc}", file=err)
        return EXIT_BAD_INPUT
    write_exports(outcome, args)
    if args.action != "export":
        print(summary_table(outcome), file=out)
    return EXIT_OK if outcome.aggregate and outcome.aggregate.n_ok > 0 else EXIT_ALL_FAILED


def app_script() -> Path:
    """The web app's main script, wherever this copy of Parallax is installed (found, not imported: the core
    never imports Streamlit). In a checkout it is app.py at the root; an installed wheel carries the root's app
    files as the folder parallax_app (pyproject.toml's package-dir)."""
    spec = importlib.util.find_spec("parallax_app")
    folders = [str(f) for f in (spec.submodule_search_locations or [])] if spec else []
    folders.append(str(Path(__file__).resolve().parent.parent))  # a checkout used without installing (PYTHONPATH)
    for folder in map(Path, folders):
        if (folder / "app.py").is_file() and (folder / "app_pages").is_dir():
            return folder / "app.py"
    raise InputError("the web app (app.py) is not installed with this copy of Parallax")


def app_main(args: argparse.Namespace, err: TextIO) -> int:
    try:
        command = [sys.executable, "-m", "streamlit", "run", str(app_script()), f"--server.port={args.port}",
                   *args.streamlit_options]
    except InputError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    # Streamlit takes this process's place: a stop (Ctrl-C, or SIGTERM from a service manager or `docker stop`)
    # reaches the server itself. As a child it was left serving, orphaned, when only `parallax` was stopped.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def console() -> None:
    """The `parallax` command."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`parallax history list | head -1`): end quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
