"""`parallax leaderboard`: engines ranked across the history's runs, judge verdicts and human votes apart."""

from __future__ import annotations

import argparse
import json
import textwrap
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from parallax.cli.common import EXIT_BAD_INPUT, EXIT_NO_HISTORY, EXIT_OK, open_history, table_lines

if TYPE_CHECKING:
    from parallax.leaderboard import Leaderboard

EMPTY = "No comparisons in the history for these filters."


def add_leaderboard_parser(sub: Any) -> None:
    """The `leaderboard` subcommand and its options."""
    from parallax.leaderboard import RESAMPLES, SOURCES, THRESHOLD

    board = sub.add_parser("leaderboard", help="engines ranked across the history's runs (Bradley–Terry ratings, "
                                               "judge verdicts and human votes apart)")
    board.add_argument("--mode", choices=["review", "translate"], help="only review or translation runs")
    board.add_argument("--pair", metavar="SRC-TGT", help="a language pair, e.g. en-de (translations)")
    board.add_argument("--perspective", metavar="NAME", help="a review perspective, e.g. legal")
    board.add_argument("--engine", action="append", default=[], metavar="ID",
                       help="one engine: its comparisons; repeated: only the comparisons among these engines")
    board.add_argument("--since", metavar="YYYY-MM-DD", help="runs from this day on")
    board.add_argument("--source", choices=list(SOURCES),
                       help="judge verdicts or human votes (default: both, as two leaderboards)")
    board.add_argument("--min-comparisons", type=int, default=THRESHOLD, metavar="N",
                       help=f"fewer comparisons than N: listed unranked as not enough (default {THRESHOLD})")
    board.add_argument("--resamples", type=int, default=RESAMPLES, metavar="N",
                       help=f"bootstrap resamples of the runs for the 95%% intervals (default {RESAMPLES})")
    board.add_argument("--json", metavar="PATH", help="write the leaderboards as JSON")


def board_table(board: Leaderboard) -> str:
    """A leaderboard as the terminal shows it: its title, the table (or why there is none) and what it rests on."""
    from parallax.leaderboard import NOT_ENOUGH, SOURCE_NAMES

    title = f"Leaderboard from {SOURCE_NAMES[board.source]}"
    lines = [title, "=" * len(title)]
    if board.note:
        lines.append(board.note)
    if board.empty:
        return "\n".join([*lines, EMPTY])
    rows = [("rank", "engine", "rating", "95% CI", "comparisons", "W/L/T", "")]
    rows += [("-" if s.rank is None else str(s.rank), s.engine, f"{s.rating:.0f}", interval(s.low, s.high),
              str(s.comparisons), f"{s.wins}/{s.losses}/{s.ties}", "" if s.enough else NOT_ENOUGH)
             for s in board.standings]
    return "\n".join([*lines, *table_lines(rows), "", textwrap.fill(board.basis(), 110)])


def interval(low: float | None, high: float | None) -> str:
    """"[955, 1040]"; an open side as ∞: "[1443, ∞)"."""
    return f"{'(-∞' if low is None else f'[{low:.0f}'}, {'∞)' if high is None else f'{high:.0f}]'}"


def leaderboard_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from parallax.leaderboard import SOURCES, Filters, collect, rate
    from parallax.storage import StorageError

    if args.since:
        try:
            date.fromisoformat(args.since)
        except ValueError:
            print(f"parallax: --since {args.since!r} is not a date (YYYY-MM-DD)", file=err)
            return EXIT_BAD_INPUT
    if args.min_comparisons < 1 or not 10 <= args.resamples <= 5000:
        print("parallax: --min-comparisons must be at least 1 and --resamples between 10 and 5000", file=err)
        return EXIT_BAD_INPUT
    store = open_history(err, f"the history cannot be read now (exit {EXIT_NO_HISTORY}); check PARALLAX_DATABASE_URL")
    if store is None:
        return EXIT_NO_HISTORY
    filters = Filters(args.mode, args.pair, args.perspective, tuple(args.engine), args.since)
    try:
        boards = [rate(collect(store, source, filters.mode, filters.since), filters, args.resamples,
                       threshold=args.min_comparisons) for source in ([args.source] if args.source else SOURCES)]
    except StorageError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_NO_HISTORY
    if args.json:
        try:
            Path(args.json).write_text(json.dumps({"leaderboards": [b.to_dict() for b in boards]},
                                                  ensure_ascii=False, indent=2), encoding="utf-8")
        except OSError as exc:
            print(f"parallax: cannot write {args.json}: {exc.strerror or exc}", file=err)
            return EXIT_BAD_INPUT
    print("\n\n".join(board_table(b) for b in boards), file=out)
    return EXIT_OK
