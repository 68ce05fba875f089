"""`parallax review|translate|batch|history|suggest|engines|app`: the command line. The parser (shared options
declared once, as argparse parents) and the review and translate commands are here; the others have their own
modules."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import NoReturn, TextIO, cast

from parallax import __version__
from parallax.batch.provider import POLL_S, WINDOW
from parallax.cli.batch import batch_main
from parallax.cli.common import (
    EXIT_ALL_FAILED,
    EXIT_BAD_INPUT,
    EXIT_BELOW,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FILE_HELP,
    TerminalSafe,
    config_from,
    open_history,
    output_format,
    plan_from_args,
    progress_printer,
    read_input,
    summary_table,
    write_exports,
)
from parallax.cli.history import history_main
from parallax.cli.leaderboard import add_leaderboard_parser, leaderboard_main
from parallax.cli.tools import app_main, engines_main, suggest_main
from parallax.cli.votes import add_parsers as add_vote_parsers
from parallax.config import DEFAULT_TIMEOUT_S, ConfigError
from parallax.documents import InputError
from parallax.reducers import REDUCERS
from parallax.results import RUN_STATUSES
from parallax.translate.judge import self_judging
from parallax.translate.request import JUDGE_PROTOCOLS

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


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def _options() -> dict[str, Parser]:
    """The options several commands share, each declared once (argparse parents)."""
    config = Parser(add_help=False)
    config.add_argument("--config", metavar="PATH", help="parallax.toml with named engines, perspectives, prices")
    calls = Parser(add_help=False, parents=[config])
    calls.add_argument("--engine", "-e", action="append", default=[], metavar="ID",
                       help="an engine (repeatable): e.g. openai:gpt-4o-mini, anthropic:claude-haiku-4-5, deepl, "
                            "offline:rules, sim:demo, or a fallback chain A|B|C")
    calls.add_argument("--reducer", choices=sorted(REDUCERS),
                       help="how branch scores merge (default: mean for reviews, best for translations)")
    calls.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                       help="wall-clock deadline of a whole branch in seconds: the engines of a fallback chain, "
                            "retries and re-asks all share it, each later engine getting what is left "
                            f"(default {DEFAULT_TIMEOUT_S:g})")
    calls.add_argument("--no-cache", action="store_true", help="call the providers even for identical calls")
    reviewing = Parser(add_help=False)
    reviewing.add_argument("--perspective", "-p", action="append", default=[], metavar="NAME",
                           help="technical, business, legal or a custom one (repeatable; default: the three "
                                "built-ins)")
    reviewing.add_argument("--samples", type=int, default=1, metavar="K",
                           help="ask each branch K times (1-5): its score is the mean, with sd and a 95%% interval "
                                "(3 or more); samples measure the model's consistency, never a clear lead")
    translating = Parser(add_help=False)
    translating.add_argument("--source", metavar="LANG", help="source language code, e.g. en")
    translating.add_argument("--target", metavar="LANG", help="target language code, e.g. de")
    translating.add_argument("--judge", metavar="ID", help="the LLM engine that judges (default: the first "
                                                           "configured)")
    translating.add_argument("--no-judge", action="store_true", help="compare by agreement only")
    translating.add_argument("--judge-samples", type=int, default=1, metavar="K",
                             help="judge K times (1-5): shows how consistent the judge is with itself (the verdict "
                                  "rests on the segments, never on repeated samples)")
    translating.add_argument("--judge-protocol", choices=list(JUDGE_PROTOCOLS), default="segments",
                             help="segments: each translation alone, cut into numbered segments (one call each); "
                                  "single: one segment per call (GEMBA-MQM's own protocol); compare: all "
                                  "translations of a segment side by side, positions rotated over the segments")
    translating.add_argument("--reference", metavar="FILE", help="a reference translation: adds chrF and BLEU")
    translating.add_argument("--glossary", metavar="FILE",
                             help="required term translations: 'term,translation' lines")
    translating.add_argument("--tone", default="", help="e.g. formal, friendly")
    one_text = Parser(add_help=False)
    one_text.add_argument("file", nargs="?", help=FILE_HELP)
    one_text.add_argument("--concurrency", type=int, metavar="N", help="at most N branches at once (default: all)")
    one_text.add_argument("--json", metavar="PATH", help="write the full result as JSON")
    one_text.add_argument("--csv", metavar="PATH", help="write one row per branch as CSV")
    one_text.add_argument("--xlsx", metavar="PATH", help="write a workbook: branches, aggregate and issues sheets")
    one_text.add_argument("-o", "--output", metavar="FILE",
                          help="write the result as CSV, JSON or XLSX, chosen by FILE's extension; - writes the "
                               "JSON to standard output (the summary then goes to standard error)")
    one_text.add_argument("--no-input-in-json", action="store_true",
                          help="the JSON keeps the input's SHA-256 and length instead of the text itself")
    one_text.add_argument("--fail-under", type=float, metavar="SCORE",
                          help="exit 4 when the aggregate score is below SCORE (or there is none): a gate for CI")
    return {"config": config, "calls": calls, "reviewing": reviewing, "translating": translating,
            "one_text": one_text}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="parallax", description="Run one text through several AI branches at once.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"parallax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    shared = _options()
    app = sub.add_parser("app", help="start the web app (from any folder; keys from the environment or "
                                     ".streamlit/secrets.toml here or in ~/.streamlit)")
    app.add_argument("--port", type=int, default=8501, help="the port to serve on (default 8501)")
    app.epilog = "Any other option goes to `streamlit run`, e.g. --server.address=0.0.0.0 to serve a team."
    sub.add_parser("review", help="review a text from several perspectives with one or more engines",
                   parents=[shared["one_text"], shared["calls"], shared["reviewing"]])
    sub.add_parser("translate", help="translate a text with several engines and compare them",
                   parents=[shared["one_text"], shared["calls"], shared["translating"]])
    batch = sub.add_parser("batch", help="run every document of a CSV or JSONL file (resumes an interrupted run)",
                           parents=[shared["calls"], shared["reviewing"], shared["translating"]])
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
    batch.add_argument("--concurrency", type=int, default=32, metavar="N", help="calls at once (default 32)")
    batch.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes sharing the calls at once and the rate limits (default 1; one "
                            "process uses about one core)")
    batch.add_argument("--rpm", action="append", default=[], metavar="PROVIDER=N",
                       help="at most N requests a minute to PROVIDER (e.g. openai=500); repeatable")
    batch.add_argument("--skip-failed", action="store_true",
                       help="on resume, keep documents that failed in an earlier run (default: run them again)")
    suggest = sub.add_parser("suggest", help="propose perspectives that fit a text (as TOML for parallax.toml)",
                             parents=[shared["config"]])
    suggest.add_argument("file", nargs="?", help=FILE_HELP)
    suggest.add_argument("--engine", "-e", metavar="ID", help="the LLM that proposes (default: offline rules)")
    engines = sub.add_parser("engines", help="the configured engines; --check sends each one tiny request",
                             parents=[shared["config"]])
    engines.add_argument("engine_ids", nargs="*", metavar="ID",
                         help="engines to list or check (default: all configured)")
    engines.add_argument("--check", action="store_true",
                         help="send one tiny structured request to each and show what worked (mode, latency, tokens)")
    engines.add_argument("--timeout", type=float, default=60.0, metavar="S", help="deadline per engine (default 60)")
    add_leaderboard_parser(sub)
    history = sub.add_parser("history", help="past runs (PARALLAX_DATABASE_URL, default ~/.parallax/history.db)")
    actions = history.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = actions.add_parser("list", help="the latest runs")
    listing.add_argument("--mode", choices=["review", "translate"])
    listing.add_argument("--status", choices=list(RUN_STATUSES))
    listing.add_argument("--search", metavar="TEXT", help="runs whose text contains TEXT")
    listing.add_argument("--engine", metavar="ID", help="runs that used this engine")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", metavar="PATH")
    for name, text in (("show", "one run, as a summary"), ("export", "write a run's CSV or JSON"),
                       ("retry", "rerun only the branches that did not succeed"), ("delete", "delete a run")):
        action = actions.add_parser(name, help=text, parents=[shared["config"]] if name == "retry" else [])
        action.add_argument("run_id", metavar="RUN_ID")
        if name != "delete":
            action.add_argument("--json", metavar="PATH")
        if name == "export":
            action.add_argument("--csv", metavar="PATH")
            action.add_argument("--xlsx", metavar="PATH")
        if name == "retry":
            action.add_argument("--no-cache", action="store_true")
            action.add_argument("--csv", metavar="PATH")
    add_vote_parsers(actions)
    return parser


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
        if args.command in ("review", "translate") and args.reducer is None:  # parents' actions are shared: no
            args.reducer = "best" if args.command == "translate" else "mean"  # per-command default on them
        missing = [f"--{n}" for n in ("source", "target") if args.command == "translate" and not getattr(args, n)]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)}")
    except UsageError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    if args.command == "app":
        return app_main(args, err)
    if args.command == "history":
        return history_main(args, out, err)
    if args.command == "leaderboard":
        return leaderboard_main(args, out, err)
    if args.command == "batch":
        return batch_main(args, out, err)
    if args.command == "suggest":
        return suggest_main(args, stdin, out, err)
    if args.command == "engines":
        return engines_main(args, out, err)
    try:
        config = config_from(args.config, err)
        output_format(args.output)
        plan = plan_from_args(args, read_input(args.file, stdin), config)
    except (InputError, ConfigError) as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    print(f"run {plan.run_id}: {len(plan.branches)} branches ({', '.join(plan.engines)})", file=err, flush=True)
    if plan.settings is not None and (warning := self_judging(plan.settings.judge, [b.engine for b in plan.branches])):
        print(f"parallax: {warning}", file=err, flush=True)
    from parallax.run.execute import RunOutcome, execute
    from parallax.storage.history import record

    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, open_history(err), use_cache=not args.no_cache)
    try:
        asyncio.run(execute(plan, progress_printer(err, len(plan.branches)), outcome))
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
