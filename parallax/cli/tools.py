"""The helper commands: `engines` (list and check them), `suggest` (perspectives for a text), `app` (the web app)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from parallax.config import ConfigError
from parallax.documents import (
    InputError,
    check_document,
)

if TYPE_CHECKING:  # the heavy parts (LangGraph, SQLAlchemy) are imported by the commands that use them
    pass
from parallax.cli.common import EXIT_ALL_FAILED, EXIT_BAD_INPUT, EXIT_OK, config_from, fmt, read_input, table_lines


def suggest_main(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from parallax.review.suggest import suggest_perspectives

    try:
        config = config_from(args.config, err)
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


def engines_main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = config_from(args.config, err)
    except ConfigError as exc:
        print(f"parallax: {exc}", file=err)
        return EXIT_BAD_INPUT
    from parallax.engines.check import check_engines, configured_engines

    for variable in config.placeholder_keys():
        print(f"parallax: {variable} holds a placeholder, not a key (an example file copied unedited?): not used",
              file=err)
    listed = configured_engines(config)
    rows: list[tuple[str, ...]]
    if not args.check:
        chosen = [e for e in listed if not args.engine_ids or e.engine_id in args.engine_ids]
        rows = [("engine", "where", "settings")]
        rows += [(e.engine_id, e.where, e.settings) for e in chosen]
        print("\n".join(table_lines(rows)), file=out)
        return EXIT_OK
    ids = args.engine_ids or [e.engine_id for e in listed]
    print(f"checking {len(ids)} engine(s) with one tiny request each…", file=err, flush=True)
    results = asyncio.run(check_engines(config, ids, args.timeout))
    rows = [("engine", "status", "structured", "latency_s", "tokens", "detail")]
    for r in results:
        tokens = "-" if r.output_tokens is None else f"{fmt(r.input_tokens)}/{r.output_tokens}"
        detail = r.error or (f"score {r.score:g}" if r.score is not None else "answered")
        rows.append((r.engine, r.status, r.structured_mode or "-", fmt(r.latency_ms and r.latency_ms / 1000, ".2f"),
                     tokens, detail))
    print("\n".join(table_lines(rows)), file=out)
    return EXIT_OK if all(r.status == "ok" for r in results) else EXIT_ALL_FAILED


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
