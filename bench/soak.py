"""Memory of the app server over many runs: does it level off?

    .venv/bin/python bench/soak.py [--runs 200]

Starts the web app, presses Run on the Review page (offline engine, the default) again and again in
headless Chromium, and prints the server's resident memory after the first run and every 20 runs after it.
Target: after 200 runs within 20 MiB of its size after the first. History and PARALLAX_HOME are temporary.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, wait_idle  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    home = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_AUTH_KEY")) and k != "PARALLAX_DATABASE_URL"}
    env.update(PYTHONPATH=str(HERE), PARALLAX_HOME=str(home))
    server = StreamlitServer(home, env)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(60_000)
            page.goto(server.url)
            wait_idle(page)
            first = None
            print(f"{'runs':>5}  {'RSS MiB':>8}  {'vs first':>8}")
            for run in range(1, runs + 1):
                page.get_by_role("button", name="Run").click()
                page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", state="attached")
                wait_idle(page)
                page.get_by_role("button", name="Download CSV").first.wait_for()
                if run == 1 or run % 20 == 0:
                    rss = rss_mib(server.process.pid)
                    first = first if first is not None else rss
                    print(f"{run:>5}  {rss:>8.1f}  {rss - first:>+8.1f}", flush=True)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
