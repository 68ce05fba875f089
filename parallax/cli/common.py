"""What every command shares: exit codes, output that cannot drive a terminal, reading the input, loading the
configuration and the history, progress lines and the summary table, exports."""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from parallax.config import Config, load_config
from parallax.documents import (
    InputError,
    byte_limit,
    check_size,
    decode_document,
    read_document,
    read_file,
)
from parallax.estimate import usd
from parallax.run.events import BranchFinished, BranchRestarted, BranchStarted

if TYPE_CHECKING:  # the heavy parts (LangGraph, SQLAlchemy) are imported by the commands that use them
    from parallax.run.execute import OnEvent, RunEvent, RunOutcome
    from parallax.run.plan import RunPlan
    from parallax.storage import Store


EXIT_OK, EXIT_ALL_FAILED, EXIT_BAD_INPUT, EXIT_NO_HISTORY, EXIT_BELOW, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


# Escape sequences (CSI, OSC — window titles, OSC-8 hyperlinks —, other ESC pairs) and control characters but
# tab and newline: model text and file content printed to a terminal must not drive it.
TERMINAL_CONTROL = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def terminal_safe(text: str) -> str:
    return TERMINAL_CONTROL.sub("", text)


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


def read_input(file: str | None, stdin: TextIO) -> str:
    if file in (None, "-"):
        if file is None and stdin.isatty():
            raise InputError("give a FILE, or pipe text on standard input (-)")
        limit = byte_limit()
        data = stdin.buffer.read(limit + 1) if hasattr(stdin, "buffer") else stdin.read(limit + 1).encode()
        check_size(len(data), "standard input")  # read no further than the limit
        return decode_document(data, "standard input")
    return read_document(read_file(file), file).text


def plan_from_args(args: argparse.Namespace, text: str, config: Config) -> RunPlan:
    from parallax.run.plan import plan_from_options

    return plan_from_options(vars(args), text, config)


def progress_printer(err: TextIO, total: int) -> OnEvent:
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


def fmt(value: float | int | None, spec: str = "g") -> str:
    return "-" if value is None else format(value, spec)


def table_lines(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def summary_table(outcome: RunOutcome) -> str:
    translate = outcome.mode == "translate"
    header: tuple[str, ...] = (("engine", "status", "judge 0-100 [95% CI]", "non_translation", "agreement",
                                "answered_by") if translate
                               else ("perspective", "engine", "status", "score 0-10", "confidence (self-reported)"))
    rows = [header + ("latency_s", "ttft_s", "tokens", "cost", "retries")]
    for r in outcome.ordered():
        tokens = "-" if r.output_tokens is None else f"{fmt(r.input_tokens)}/{r.output_tokens}"
        found = r.estimate
        score = "-" if found is None else found.short()
        if translate:
            agreement = fmt(r.agreement) + (" outlier" if r.outlier else "")
            flag = r.non_translation or ("unverified" if r.unverified else "-")
            first: tuple[str, ...] = (r.engine, r.status, score, flag, agreement, r.answered_by or "-")
        else:
            first = (r.perspective, r.engine, r.status, score, fmt(r.confidence))
        rows.append(first + (fmt(r.latency_ms and r.latency_ms / 1000, ".2f"),
                             fmt(r.ttft_ms and r.ttft_ms / 1000, ".2f"), tokens, usd(r.cost_usd),
                             str(r.retries)))
    lines = table_lines(rows)
    a = outcome.aggregate
    if a is not None:
        score = (f"{a.score:.2f}" if a.score is not None else "none (no branch succeeded)" if not a.n_ok
                 else f"{a.best} (no score)" if a.best else "none")
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
    if best is not None and translate and a is not None:
        lines.append(f"\n{a.headline(outcome.mode)}:\n{best.text}")
    if outcome.demo:
        lines.append(outcome.demo)
    for r in outcome.ordered():
        if r.error or r.judge_error:
            lines.append(f"{r.branch_id}: {r.error or r.judge_error}")
        for failure in r.fallbacks:
            lines.append(f"{r.branch_id}: {failure['engine']} failed first ({failure['error']})")
    lines += outcome.cost().lines()  # "cost: …" with the judge in it, and "judge: …" on its own
    if outcome.wall_ms is not None:
        lines.append(f"wall time: {outcome.wall_ms / 1000:.2f} s")
    return "\n".join(lines)


OUTPUT_FORMATS = {".csv": "csv", ".json": "json", ".xlsx": "xlsx"}


def output_format(path: str | None) -> str | None:
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
    from parallax.export import segments_csv, to_csv, to_json, to_xlsx

    output = getattr(args, "output", None)
    if output == "-" and out is not None:
        out.write(to_json(outcome, not getattr(args, "no_input_in_json", False)) + "\n")
    elif output:
        setattr(args, output_format(output) or "json", output)

    if getattr(args, "json", None):
        Path(args.json).write_text(to_json(outcome, not getattr(args, "no_input_in_json", False)),
                                   encoding="utf-8")
    if getattr(args, "csv", None):
        Path(args.csv).write_text(to_csv(outcome), encoding="utf-8", newline="")
        if outcome.assessment and outcome.assessment.units:  # the aligned segments, beside it: NAME.segments.csv
            Path(args.csv).with_suffix(".segments.csv").write_text(segments_csv(outcome), encoding="utf-8",
                                                                   newline="")
    if getattr(args, "xlsx", None):
        Path(args.xlsx).write_bytes(to_xlsx(outcome))


def config_from(path: str | None, err: TextIO) -> Config:
    """The configuration; a parallax.toml found in the working folder (not named with --config or
    PARALLAX_CONFIG) that defines engines is named on standard error, with the servers its engines call."""
    config = load_config(path)
    notice = config.working_folder_notice()
    if notice:
        print(f"parallax: {notice}", file=err, flush=True)
    return config


def open_history(err: TextIO, consequence: str = "results are shown but not saved") -> Store | None:
    """The history database, with runs left `running` by a killed process marked interrupted; None if down."""
    from parallax.storage import StorageError, open_store

    try:
        store = open_store()
        store.mark_interrupted()
        return store
    except StorageError as exc:
        print(f"parallax: {exc}; {consequence}", file=err)
        return None
