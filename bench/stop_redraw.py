"""After Stop: how long until the page tells the truth — the Stopped note, the export buttons, every chart drawn.

    .venv/bin/python bench/stop_redraw.py [--repeats 3]

Headless Chromium against a fresh `streamlit run` (PARALLAX_HOME in a temporary folder, no keys): the Translate
page's demo engines run, Stop is clicked after 1.2 s, and the script times the Stopped note, the Download CSV
button and the moment no skeleton placeholder is left. Medians of N repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402

NO_SKELETON = "() => document.querySelectorAll('[data-testid=stSkeleton]').length === 0"


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_KEY"))}
    env["PARALLAX_HOME"] = str(home)
    server = StreamlitServer(home, env, app=HERE / "app.py")
    times: dict[str, list[float]] = {"Stopped note": [], "Download CSV": [], "no skeleton left": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            for _ in range(args.repeats):
                page.goto(f"{server.url}/translate")
                page.get_by_role("heading", name="Translate").wait_for(timeout=30_000)
                page.get_by_role("button", name="Run").click()
                page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").wait_for()
                time.sleep(1.2)  # the demo engines are streaming
                page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
                clicked = time.monotonic()
                page.get_by_text("Stopped:").wait_for(timeout=30_000)
                times["Stopped note"].append(time.monotonic() - clicked)
                page.get_by_role("button", name="Download CSV").wait_for(timeout=30_000)
                times["Download CSV"].append(time.monotonic() - clicked)
                page.wait_for_function(NO_SKELETON, timeout=30_000)
                times["no skeleton left"].append(time.monotonic() - clicked)
            browser.close()
    finally:
        server.stop()
    for name, values in times.items():
        print(f"{name:<18} {statistics.median(values):.2f} s after the click (median of {len(values)})")


if __name__ == "__main__":
    main()
