"""How soon a finished run's results show on the Review page, in real headless Chromium: the first run of a browser
session against the second run in the same tab, side by side in one sitting.

The run is the one a new user starts first: the sample text, the default perspectives, the offline engine (no key).
A recorder inside the page (requestAnimationFrame, installed before Run is clicked) notes, from the click: when the
first branch's badge reads "done", and when the first chart is drawn and when every chart is (a chart on the screen,
not one left over from the run before). The first run of a session is timed twice: clicked as soon as the page is
ready, and after 5 s of reading the form (what a user does first). Each case is a fresh browser context (nothing
cached), against one server that has served a session already (its imports done). Prints the median of each case,
the first run's ratio to the second (target: within 1.5× — before, the first run's charts came 4.1 s after the
click, 2.8× the second run's), and the longest frame gap while the form showed (from the page ready to the click:
a page busy starting a script freezes).

    .venv/bin/python bench/page_results.py        # 3 sessions of each case
    .venv/bin/python bench/page_results.py 5
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, private_server, wait_idle  # noqa: E402

# From the click on Run: first "done" badge, first chart, all charts (as many as the page ends with), in ms. An
# element of the run before is marked stale (data-stale) until the new script run reaches it: left out.
RECORDER = """() => { const T = window.__t = {};
  const fresh = (e) => !e.closest('[data-stale="true"]') && e.getBoundingClientRect().width > 0;
  document.addEventListener('click', e => { const b = e.target.closest('button');
    if (b && b.innerText.trim().endsWith('Run') && T.click === undefined) T.click = performance.now(); }, true);
  const tick = () => { const now = performance.now();
    if (T.click !== undefined) {
      const charts = [...document.querySelectorAll('.js-plotly-plot')].filter(fresh).length;
      if (charts === 0) T.cleared = true;
      if (T.cleared && charts > 0) { T.chart1 ??= now - T.click; T.charts = charts; T.all = charts > (T.most || 0)
        ? now - T.click : T.all; T.most = Math.max(T.most || 0, charts); }
      const done = [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
        .filter(s => s.children.length === 0 && s.textContent.trim() === 'done' && fresh(s)).length;
      if (T.cleared && done > 0) T.done ??= now - T.click;
    }
    requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""


def ended(page) -> dict:  # type: ignore[no-untyped-def]
    """Wait for the run's results (the page idle, charts drawn), then read the recorder."""
    page.wait_for_function("() => window.__t.chart1 !== undefined && window.__t.done !== undefined", polling=100,
                           timeout=60_000)
    wait_idle(page)
    return page.evaluate("window.__t")


# Every frame's time from the page's start (an init script), to find the longest gap while the form showed.
FRAMES = "window.__f = []; const f = t => { window.__f.push(t); requestAnimationFrame(f); }; requestAnimationFrame(f);"
LONGEST_GAP = """([from, to]) => { const f = window.__f.filter(t => t >= from && t <= to);
  return Math.max(0, ...f.slice(1).map((t, i) => t - f[i])); }"""


def click_run(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(RECORDER)
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Run", exact=True).click()


def session(browser, url: str, read_s: float) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """A new browser context: the first run (after `read_s` on the form), then the second run in the same tab."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(FRAMES)
    try:
        page.goto(url)
        wait_idle(page)
        page.get_by_role("heading", name="Review").wait_for()
        ready = page.evaluate("performance.now()")
        if read_s:
            page.wait_for_timeout(read_s * 1000)  # a user reading the form: the scenario, not a synchronisation
        click_run(page)
        first = ended(page)
        first["form_gap"] = page.evaluate(LONGEST_GAP, [ready, first["click"]])
        click_run(page)
        return first, ended(page)
    finally:
        page.context.close()


def main(rounds: int) -> None:
    server = private_server()
    cases: dict[str, list[dict]] = {"first run, clicked at once": [], "first run, after 5 s on the form": [],
                                    "second run, same tab": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            session(browser, server.url, 0)  # the server's own first session: its imports, not the page's
            for _ in range(rounds):
                for read_s, case in ((0, "first run, clicked at once"), (5, "first run, after 5 s on the form")):
                    first, second = session(browser, server.url, read_s)
                    cases[case].append(first)
                    cases["second run, same tab"].append(second)
            browser.close()
    finally:
        server.stop()
    second = statistics.median(t["all"] for t in cases["second run, same tab"])
    print(f"{'case':36} {'n':>2} {'cards done':>11} {'first chart':>12} {'all charts':>11} {'÷ second run':>13} "
          f"{'longest frame gap on the form':>30}")
    for case, times in cases.items():
        med = {k: statistics.median(t[k] for t in times) for k in ("done", "chart1", "all")}
        gaps = [round(t["form_gap"]) for t in times if "form_gap" in t]
        print(f"{case:36} {len(times):>2} {med['done'] / 1000:>10.2f}s {med['chart1'] / 1000:>11.2f}s "
              f"{med['all'] / 1000:>10.2f}s {med['all'] / second:>12.2f}× {str(gaps) + ' ms' if gaps else '':>30}")
    print(f"(charts per run: {sorted({t['most'] for ts in cases.values() for t in ts})}; load average "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
