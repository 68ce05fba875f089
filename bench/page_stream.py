"""The Review page keeping up with 12 branches streaming 50 tokens/s each, in real headless Chromium.

Prints: run wall ÷ slowest branch (from the exported JSON, and as the browser saw it), how many
times each card's text changed while streaming, and the longest gap between browser frames
(a frozen page shows as a long gap). Target: wall within 1.1× the slowest branch.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, wait_idle  # noqa: E402

ENGINES = [f"sim:s{i}?latency=0.5&tokens=150&rate=50" for i in range(1, 5)]  # 3 perspectives × 4 = 12 branches
SAMPLE_CARDS = """() => [...document.querySelectorAll('[data-testid="stCode"]')].map(c => c.innerText)"""
DONE_BADGES = """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
  .filter(s => s.children.length === 0 && s.innerText.trim() === 'done').length"""
FRAME_WATCH = """() => { window.__gaps = []; let last = performance.now();
  const tick = (t) => { window.__gaps.push(t - last); last = t; if (window.__watch) requestAnimationFrame(tick); };
  window.__watch = true; requestAnimationFrame(tick); }"""


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    # A history of its own: the user's is never written, and no earlier run's cache answers these calls.
    env["PARALLAX_HOME"] = str(tmp)
    env.pop("PARALLAX_DATABASE_URL", None)
    server = StreamlitServer(tmp, env)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 2400}, accept_downloads=True)
            page.set_default_timeout(60_000)
            page.goto(server.url)
            wait_idle(page)
            page.get_by_label("Matrix: every perspective × every engine").check(force=True)
            page.get_by_role("button", name="Remove Keyword checks (offline) — no AI").wait_for()
            page.get_by_role("button", name="Remove Keyword checks (offline) — no AI").click()
            page.get_by_text("Use another engine id").click()
            for engine in ENGINES:
                page.get_by_label("Engine id").fill(engine)
                page.get_by_label("Engine id").press("Enter")
                page.get_by_role("button", name="Add engine").click()
                label = engine[4:].split("?")[0]
                expect(page.get_by_role("button", name=f"Remove Demo · {label}", exact=False)).to_be_visible()
                wait_idle(page)
            expect(page.get_by_text("12 branches")).to_be_visible()
            page.evaluate(FRAME_WATCH)
            clicked = time.perf_counter()
            page.get_by_role("button", name="Run").click()
            seen: list[list[str]] = []
            while page.evaluate(DONE_BADGES) < 12:
                seen.append(page.evaluate(SAMPLE_CARDS))
                page.wait_for_timeout(100)  # sampling interval, not synchronisation
            browser_wall = time.perf_counter() - clicked
            page.get_by_text("12 of 12").wait_for()
            page.evaluate("() => { window.__watch = false; }")
            gaps = page.evaluate("() => window.__gaps")
            wait_idle(page)
            with page.expect_download() as download:
                page.get_by_role("button", name="Download JSON").click()
            run = json.loads(Path(download.value.path()).read_text())
            browser.close()
    finally:
        server.stop()
    slowest = max(b["latency_ms"] for b in run["branches"]) / 1000
    changes = []
    for i in range(12):
        values = [s[i] for s in seen if len(s) == 12]
        changes.append(len({v for v in values}))
    print(f"branches: {len(run['branches'])}, all ok: {all(b['status'] == 'ok' for b in run['branches'])}")
    print(f"slowest branch {slowest:.2f} s; run wall {run['wall_ms'] / 1000:.2f} s -> "
          f"wall/slowest {run['wall_ms'] / 1000 / slowest:.3f} (target <= 1.10)")
    print(f"as the browser saw it (click on Run to the twelfth 'done' badge): {browser_wall:.2f} s -> "
          f"{browser_wall / slowest:.3f}")
    print(f"distinct texts seen per card while sampling every 100 ms: min {min(changes)}, max {max(changes)}")
    print(f"longest gap between browser frames during the run: {max(gaps):.0f} ms")


if __name__ == "__main__":
    main()
