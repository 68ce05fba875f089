"""The Review page keeping up with 12 and 32 branches streaming 50 tokens/s each, in real headless Chromium.

Prints, for each size: run wall ÷ slowest branch (from the exported JSON, and as the browser saw it); how often
each visible card's *shown* text changed while its branch streamed — sampled every 100 ms, "shown" being the
text between the top and the bottom of the card's visible box (what a reader sees, not what is scrolled out of
view), over pairs of consecutive samples in which the card's badge read "streaming" (target: every card ≥ 90%);
and the longest gap between browser frames (a frozen page shows as a long gap). Target: wall within 1.1× the
slowest branch.

    .venv/bin/python bench/page_stream.py          # 12 then 32 branches
    .venv/bin/python bench/page_stream.py 32       # one size

Screenshots mid-run and after: test-artifacts/bench-N-mid-run.png, bench-N-final.png.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, shot, wait_idle  # noqa: E402

SIM = "latency=0.5&tokens=150&rate=50"
# 12 branches: 3 perspectives × 4 engines; 32: 2 perspectives × 16 engines.
SIZES = {12: (3, 4), 32: (2, 16)}
FRAME_WATCH = """() => { window.__gaps = []; let last = performance.now();
  const tick = (t) => { window.__gaps.push(t - last); last = t; if (window.__watch) requestAnimationFrame(tick); };
  window.__watch = true; requestAnimationFrame(tick); }"""
# Every visible card with a text box: its badge and the text its box shows (from the character at the box's top
# left to the one at its bottom right, found with caretRangeFromPoint), keyed by the card's place in the page.
SHOWN = """() => {
  const BADGES = new Set(['queued', 'streaming', 'done', 'error', 'timed out', 'truncated', 'cancelled']);
  const out = {};
  const done = [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
    .filter(s => s.children.length === 0 && s.innerText.trim() === 'done').length;
  for (const code of document.querySelectorAll('[data-testid="stCode"]')) {
    let card = code.parentElement, badge = null;
    for (; card && card !== document.body; card = card.parentElement) {
      badge = [...card.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
        .find(s => s.children.length === 0 && BADGES.has(s.innerText.trim()));
      if (badge) break;
    }
    if (!badge) continue;
    const r = card.getBoundingClientRect();
    if (r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth) continue;  // not on screen
    // A card by where it sits in the page (grid cells carry no title of their own): stable while it streams.
    const main = document.querySelector('[data-testid=stMain]');
    const grid = card.closest('[class*=_scroll]');
    const seen = grid ? grid.getBoundingClientRect() : null;
    if (seen && (r.left >= seen.right || r.right <= seen.left)) continue;  // scrolled out of the grid's view
    const key = Math.round(r.left + (grid ? grid.scrollLeft : 0)) + ',' + Math.round(r.top + main.scrollTop);
    let box = code.querySelector('pre') || code;
    for (let e = box; e && e !== card; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (/(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 2) { box = e; break; }
    }
    const b = box.getBoundingClientRect();
    const offsetAt = (x, y) => {
      const c = document.caretRangeFromPoint(x, y);
      if (!c || !code.contains(c.startContainer)) return null;
      let n = 0;
      const w = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
      for (let t = w.nextNode(); t; t = w.nextNode()) {
        if (t === c.startContainer) return n + c.startOffset;
        n += t.textContent.length;
      }
      return null;
    };
    const top = offsetAt(b.left + 12, Math.max(b.top + 12, 1));
    const bottom = offsetAt(b.right - 12, Math.min(b.bottom - 12, innerHeight - 2));
    out[key] = {badge: badge.innerText.trim(),
                shown: top === null || bottom === null ? null : code.textContent.slice(top, bottom + 1)};
  }
  return {done, cards: out};
}"""


def run(n: int) -> None:
    perspectives, engines = SIZES[n]
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
            page.get_by_role("button", name="Remove Keyword checks (offline)").wait_for()
            page.get_by_role("button", name="Remove Keyword checks (offline)").click()
            if perspectives == 2:
                page.get_by_role("button", name="Remove legal").click()
                wait_idle(page)
            page.get_by_text("Use another engine id").click()
            for i in range(1, engines + 1):
                page.get_by_label("Engine id").fill(f"sim:s{i}?{SIM}")
                page.get_by_label("Engine id").press("Enter")
                page.get_by_role("button", name="Add engine").click()
                expect(page.get_by_role("button", name=f"Remove Demo · s{i}", exact=False)).to_be_visible()
                wait_idle(page)
            expect(page.get_by_text(f"{n} branches")).to_be_visible()
            page.evaluate(FRAME_WATCH)
            clicked = time.perf_counter()
            page.get_by_role("button", name="Run").click()
            seen: list[dict[str, dict[str, str | None]]] = []
            intervals: list[float] = []
            due = time.perf_counter()
            while True:
                now = time.perf_counter()
                sample = page.evaluate(SHOWN)
                if sample["done"] >= n:
                    break
                seen.append(sample["cards"])
                intervals.append(now)
                if len(seen) == 8:
                    shot(page, f"bench-{n}-mid-run")  # test-artifacts/: look at it
                    seen.append({})  # no pair spans the screenshot
                    intervals.append(time.perf_counter())
                    due = time.perf_counter()
                due += 0.1
                page.wait_for_timeout(max(0.0, (due - time.perf_counter()) * 1000))  # sampling clock, not a sync
            browser_wall = time.perf_counter() - clicked
            page.get_by_text(f"{n} of {n}").first.wait_for()
            page.evaluate("() => { window.__watch = false; }")
            gaps = page.evaluate("() => window.__gaps")
            wait_idle(page)
            shot(page, f"bench-{n}-final")
            with page.expect_download() as download:
                page.get_by_role("button", name="Download JSON").click()
            result = json.loads(Path(download.value.path()).read_text())
            browser.close()
    finally:
        server.stop()
    slowest = max(b["latency_ms"] for b in result["branches"]) / 1000
    fractions: dict[str, float] = {}
    unmeasured = 0
    for key in {k for sample in seen for k in sample}:
        pairs = changed = 0
        for before, after in zip(seen, seen[1:], strict=False):
            a, b = before.get(key), after.get(key)
            if not a or not b or a["badge"] != "streaming" or b["badge"] != "streaming":
                continue
            if a["shown"] is None or b["shown"] is None:
                unmeasured += 1
                continue
            if a["shown"].strip() in ("", "…"):
                continue  # not streaming text yet
            pairs += 1
            changed += a["shown"] != b["shown"]
        if pairs:
            fractions[key] = changed / pairs
    steps = [b - a for a, b in zip(intervals, intervals[1:], strict=False)]
    print(f"== {n} branches ({perspectives} perspectives × {engines} engines, sim {SIM})")
    print(f"branches: {len(result['branches'])}, all ok: {all(b['status'] == 'ok' for b in result['branches'])}")
    print(f"slowest branch {slowest:.2f} s; run wall {result['wall_ms'] / 1000:.2f} s -> "
          f"wall/slowest {result['wall_ms'] / 1000 / slowest:.3f} (target <= 1.10)")
    print(f"as the browser saw it (click on Run to the last 'done' badge): {browser_wall:.2f} s -> "
          f"{browser_wall / slowest:.3f}")
    if fractions:
        values = sorted(fractions.values())
        print(f"samples: {len(seen)}, every {statistics.median(steps) * 1000:.0f} ms (median); visible cards measured: "
              f"{len(values)} of {n}; sample pairs not measurable: {unmeasured}")
        print(f"fraction of 100-ms samples in which a streaming card's shown text changed: min {values[0]:.0%}, "
              f"median {statistics.median(values):.0%}, mean {statistics.mean(values):.0%} (target: every card >= 90%)")
    else:
        print("no streaming card was seen")
    print(f"longest gap between browser frames during the run: {max(gaps):.0f} ms")


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or list(SIZES):
        run(size)
