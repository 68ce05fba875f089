"""Start-up: how long the command line and the web page take before they are useful, whole process.

    .venv/bin/python bench/startup.py [--repo PATH] [--repeats N]

`--repo` measures another checkout with this environment's Python (for a before/after table: check out the
earlier commit into a folder and run this script on both). Prints medians of N runs. Targets: `--help` and
`--version` ≤ 0.3 s; a 1-branch offline review ≤ 0.6 s; the Review page usable (Run button enabled) ≤ 2.0 s
after the server process starts. Nothing is written to your own history: PARALLAX_HOME is a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402


def environment(repo: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_AUTH_KEY")) and k not in ("PARALLAX_DATABASE_URL", "PARALLAX_CONFIG")}
    return {**env, "PYTHONPATH": str(repo), "PARALLAX_HOME": str(home)}


def command_seconds(repo: Path, env: dict[str, str], args: list[str], stdin: bytes = b"") -> float | None:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "parallax", *args], cwd=repo, env=env, input=stdin,
                          capture_output=True)
    elapsed = time.perf_counter() - t0
    return elapsed if done.returncode == 0 else None


def page_usable_seconds(repo: Path, env: dict[str, str], browser: object) -> float:
    """From spawning `streamlit run app.py` to the Review page's Run button being enabled in Chromium."""
    page = browser.new_page()  # type: ignore[attr-defined]
    server = StreamlitServer(Path(env["PARALLAX_HOME"]), env, repo / "app.py")
    try:
        page.goto(server.url)
        page.get_by_role("button", name="Run").and_(page.locator(":enabled")).wait_for(timeout=60_000)
        return time.perf_counter() - server.spawned_at
    finally:
        page.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=HERE)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    repo = options.repo.resolve()
    home = Path(tempfile.mkdtemp())
    env = environment(repo, home)
    text = b"Our product is guaranteed to never fail. Contact sales@example.com to upgrade."
    commands = {
        "--help": (["--help"], b""),
        "--version": (["--version"], b""),
        "engines (list)": (["engines"], b""),
        "review, 1 offline branch": (["review", "-", "-p", "legal", "-e", "offline:rules"], text),
    }
    print(f"repo {repo}; medians of {options.repeats} runs, whole process")
    for name, (args, stdin) in commands.items():
        times = [command_seconds(repo, env, args, stdin) for _ in range(options.repeats)]
        shown = "not available" if None in times else f"{statistics.median(t for t in times if t):.3f} s"
        print(f"  {name:<28} {shown}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page_usable_seconds(repo, env, browser)  # warm the disk cache: every later start is alike
        usable = [page_usable_seconds(repo, env, browser) for _ in range(options.repeats)]
        browser.close()
    print(f"  {'page usable after start':<28} {statistics.median(usable):.3f} s  (runs: "
          + ", ".join(f"{u:.2f}" for u in usable) + ")")


if __name__ == "__main__":
    main()
