"""Parallax's own share of start-up imports: a one-branch offline `parallax review` under `python -X importtime`,
split into LangGraph's tree (langgraph, langchain_core, langsmith and what they import first), Parallax's share
(everything else imported under a parallax module: its own modules, SQLAlchemy, pydantic…) and the interpreter's.

    .venv/bin/python bench/import_share.py [--repo PATH ...] [--repeats 9]

Several `--repo` checkouts are run alternately (a before/after table in one sitting); medians of the repeats.
Target (issue 23): Parallax's share ≤ 0.35 s where LangGraph's tree takes ~0.70 s — the last column puts the share
on that scale, since the machine's speed moves both. Nothing is written to your own history (PARALLAX_HOME is a
temporary folder).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGGRAPH = ("langgraph", "langchain_core", "langsmith", "langchain_protocol", "langgraph_sdk")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def split(log: str) -> dict[str, float]:
    """Self times (s) per part; a module counts where the first import of it came from."""
    rows = [(int(m[1]), len(m[3]) // 2, m[4]) for m in map(LINE.match, log.splitlines()) if m]
    parts = {"interpreter": 0.0, "parallax": 0.0, "langgraph": 0.0}
    stack: list[tuple[int, str]] = []
    for self_us, depth, name in reversed(rows):  # parents come after their children in the log
        while stack and stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, name))
        tops = [n.split(".")[0] for _, n in stack]
        part = "langgraph" if any(t in LANGGRAPH for t in tops) else "parallax" if "parallax" in tops else "interpreter"
        parts[part] += self_us / 1e6
    return parts


def one(repo: Path, document: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("PARALLAX_DATABASE_URL", "PARALLAX_CONFIG")}
    env.update(PYTHONPATH=str(repo), PARALLAX_HOME=tempfile.mkdtemp())
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "parallax", "review", str(document),
                           "-e", "offline:rules", "-p", "technical"], cwd=tempfile.gettempdir(), env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{repo}: the review failed:\n{done.stderr[-2000:]}")
    return split(done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, action="append", help="a checkout to measure (default: this one)")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    repos = args.repo or [ROOT]
    document = Path(tempfile.mkdtemp()) / "document.txt"
    document.write_text("Version 2.1 cuts start-up time from 4 s to 1 s. Contact sales to upgrade.\n", encoding="utf-8")
    runs: dict[Path, list[dict[str, float]]] = {repo: [] for repo in repos}
    for _ in range(args.repeats):
        for repo in repos:  # alternated: a change in the machine's load touches every checkout alike
            runs[repo].append(one(repo, document))
    print(f"one-branch offline review, medians of {args.repeats} (seconds of import, self times)\n")
    print(f"{'checkout':<40} | {'interpreter':>11} | {'parallax share':>14} | {'langgraph tree':>14} | "
          f"{'share at langgraph = 0.70 s':>27}")
    for repo, found in runs.items():
        med = {part: statistics.median(r[part] for r in found) for part in found[0]}
        scaled = statistics.median(0.70 * r["parallax"] / r["langgraph"] for r in found)
        print(f"{str(repo):<40} | {med['interpreter']:>10.3f}s | {med['parallax']:>13.3f}s | "
              f"{med['langgraph']:>13.3f}s | {scaled:>26.3f}s")


if __name__ == "__main__":
    main()
