"""`parallax history`: list, show, export, retry and delete stored runs; vote on them and list their votes."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from parallax.config import ConfigError
from parallax.documents import (
    InputError,
)

if TYPE_CHECKING:  # the heavy parts (LangGraph, SQLAlchemy) are imported by the commands that use them
    from parallax.run.execute import RunOutcome
    from parallax.votes import Vote
from parallax.cli.common import (
    EXIT_ALL_FAILED,
    EXIT_BAD_INPUT,
    EXIT_NO_HISTORY,
    EXIT_OK,
    config_from,
    fmt,
    open_history,
    summary_table,
    table_lines,
    write_exports,
)


def history_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from parallax.storage import StorageError
    from parallax.storage.history import outcome_from_record, retry_failed

    store = open_history(err, f"the history cannot be read now (exit {EXIT_NO_HISTORY}); check PARALLAX_DATABASE_URL")
    if store is None:
        return EXIT_NO_HISTORY
    if args.action in ("vote", "votes"):
        from parallax.cli.votes import votes_main

        return votes_main(args, store, out, err)
    try:
        if args.action == "list":
            runs = store.list_runs(args.mode, args.status, args.search, args.engine, limit=args.limit)
            if args.json:
                Path(args.json).write_text(json.dumps(runs, ensure_ascii=False, indent=2), encoding="utf-8")
            rows = [("run_id", "created_at", "mode", "status", "review_score", "translation_score", "ok", "engines",
                     "text")]
            rows += [(r["run_id"], r["created_at"][:19], r["mode"], r["status"], fmt(r["review_score"]),
                      fmt(r["translation_score"]),
                      f"{r['n_ok'] if r['n_ok'] is not None else '-'}/{r['n_total']}", r["engines"][:40],
                      r["text"][:40].replace("\n", " ")) for r in runs]
            print("\n".join(table_lines(rows)) if runs else "no runs in the history yet", file=out)
            return EXIT_OK
        if args.action == "delete":
            if not store.delete_run(args.run_id):
                print(f"parallax: no run {args.run_id!r} in the history", file=err)
                return EXIT_BAD_INPUT
            print(f"deleted {args.run_id}", file=out)
            return EXIT_OK
        if args.action == "retry":
            outcome = asyncio.run(retry_failed(args.run_id, store, config_from(args.config, err), not args.no_cache))
        else:
            outcome = outcome_from_record(store.load_run(args.run_id))
    except StorageError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    except (InputError, ConfigError) as exc:
        print(f"parallax: cannot retry: {exc}", file=err)
        return EXIT_BAD_INPUT
    votes = store.votes(outcome.run_id)
    write_exports(outcome, argparse.Namespace(**{**vars(args), "json": None, "xlsx": None}))
    _write_with_votes(outcome, args, votes)
    if args.action != "export":
        print(summary_table(outcome), file=out)
    return EXIT_OK if outcome.aggregate and outcome.aggregate.n_ok > 0 else EXIT_ALL_FAILED


def _write_with_votes(outcome: RunOutcome, args: argparse.Namespace, votes: list[Vote]) -> None:
    """A stored run's exports carry its votes: a "votes" list in the JSON, a votes sheet in the XLSX and
    NAME.votes.csv beside --csv (when there are votes)."""
    from parallax.export import to_json, to_xlsx, votes_csv

    if getattr(args, "json", None):
        Path(args.json).write_text(to_json(outcome, True, votes), encoding="utf-8")
    if getattr(args, "xlsx", None):
        Path(args.xlsx).write_bytes(to_xlsx(outcome, votes))
    if getattr(args, "csv", None) and votes:
        Path(args.csv).with_suffix(".votes.csv").write_text(votes_csv(outcome, votes), encoding="utf-8",
                                                            newline="")
