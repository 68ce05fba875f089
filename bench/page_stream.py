"""The Review page keeping up with 12 and 32 branches streaming 50 tokens/s each, in real headless Chromium.

A sampler inside the page (setInterval, every 100 ms, installed before Run is clicked) records each visible card's
badge and its *shown* text — the text between the top and the bottom of the card's visible box, what a reader sees,
not what is scrolled out of view — and the page's frame times and the server's messages; Python starts it, waits
for every card's "done" badge (page.wait_for_function), then reads it all once. Prints, for each size: run wall ÷
slowest branch (from the exported JSON, and as the browser saw it: click on Run to the last "done" badge); how the
sampler kept time (a busy page delays its timer too); how often each visible card's shown text changed over pairs
of consecutive samples in which the card's badge read "streaming" (target: every card ≥ 90%), and the same with a
late sample counted as the 100-ms samples it stands for (a page frozen for a second gives one sample, not ten), and
when the text of each card under 90% stood still, or why no card could be measured; the longest gap between browser
frames (a frozen page shows as a long gap); and what the server sent during the run (messages and bytes). Target:
wall within 1.1× the slowest branch.

    .venv/bin/python bench/page_stream.py          # 12 then 32 branches
    .venv/bin/python bench/page_stream.py 32       # one size

Screenshots mid-run (once a card has streamed for a second) and after: test-artifacts/bench-N-mid-run.png,
bench-N-final.png; samples within the mid-run screenshot are left out.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.browser.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    add_engine_ids,
    choose_matrix,
    private_server,
    shot,
    wait_idle,
)

SIM = "latency=0.5&tokens=150&rate=50"
# 12 branches: 3 perspectives × 4 engines; 32: 2 perspectives × 16 engines.
SIZES = {12: (3, 4), 32: (2, 16)}
# Every visible card with a live text (components/grid.py: a .pl-live element; st.code before it): its badge and the
# text its box shows (from the character at the box's top left to the one at its bottom right, found with
# caretRangeFromPoint), keyed by its container's key (KEY_cardN), else by its place in the page. Off-screen cards
# are skipped before anything costly: the sampler runs in the page it measures.
SHOWN = """() => {
  const BADGES = new Set(['queued', 'streaming', 'done', 'error', 'timed out', 'truncated', 'cancelled']);
  const badgeIn = (e) => [...e.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
    .find(s => s.children.length === 0 && BADGES.has(s.textContent.trim()));
  const out = {};
  const done = [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
    .filter(s => s.children.length === 0 && s.textContent.trim() === 'done').length;
  const main = document.querySelector('[data-testid=stMain]');
  for (const code of document.querySelectorAll('[data-testid="stCode"], .pl-live')) {
    let card = code.closest('[class*="st-key-"][class*="_card"]'), badge = card && badgeIn(card);
    for (card = badge ? card : code.parentElement; !badge && card && card !== document.body; card = card.parentElement)
      if ((badge = badgeIn(card))) break;
    if (!badge) continue;
    const r = card.getBoundingClientRect();
    if (r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth) continue;  // not on screen
    const grid = card.closest('[class*=_scroll]');
    const seen = grid ? grid.getBoundingClientRect() : null;
    if (seen && (r.left >= seen.right || r.right <= seen.left)) continue;  // scrolled out of the grid's view
    const keyed = [...card.classList].find(c => /^st-key-.*_card[0-9]+$/.test(c));
    const key = keyed || Math.round(r.left + (grid ? grid.scrollLeft : 0)) + ',' + Math.round(r.top + main.scrollTop);
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
    out[key] = {badge: badge.textContent.trim(),
                shown: top === null || bottom === null ? null : code.textContent.slice(top, bottom + 1)};
  }
  return {done, cards: out};
}"""


# Every message the server sends (time, bytes), from the page's first WebSocket on: installed before the page loads.
WS_WATCH = """(() => { window.__ws = []; const Native = window.WebSocket;
  window.WebSocket = function (...args) { const ws = new Native(...args);
    ws.addEventListener('message', e => window.__ws.push([performance.now(), e.data.byteLength ?? e.data.size]));
    return ws; };
  window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native); })()"""
# The sampler: SHOWN every 100 ms into window.__samples ({t, done, cards}), and every frame's time into
# window.__frames, until window.__stop() (which returns everything recorded); and when Run was clicked.
SAMPLER = """() => { const shown = (SHOWN);
  window.__samples = []; window.__frames = []; window.__clicked = null; let on = true;
  document.addEventListener('click', e => { if (window.__clicked === null && e.target.closest('button')
    && e.target.closest('button').innerText.trim().endsWith('Run')) window.__clicked = performance.now(); }, true);
  const frame = (t) => { window.__frames.push(t); if (on) requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  const sample = () => { const t = performance.now(), seen = shown();
    window.__samples.push({t, cost: performance.now() - t, ...seen}); };
  sample(); const timer = setInterval(sample, 100);
  window.__stop = () => { on = false; clearInterval(timer);
    return {samples: window.__samples, frames: window.__frames, clicked: window.__clicked, ws: window.__ws}; };
}""".replace("SHOWN", SHOWN)
# Once a card has streamed for a second (the moment of the mid-run screenshot), or the run has ended.
STREAMED_A_SECOND = """(n) => window.__samples.filter(s => Object.values(s.cards)
  .some(c => c.badge === 'streaming' && c.shown && c.shown.trim() !== '…')).length >= 10
  || window.__samples.at(-1).done >= n"""


def setup(page, n: int, perspectives: int, engines: int) -> None:  # type: ignore[no-untyped-def]
    """The Review page with n branches: the matrix, the offline reviewer removed, engines s1…sN added."""
    choose_matrix(page)
    page.get_by_role("button", name="Remove Keyword checks (offline)").wait_for()
    page.get_by_role("button", name="Remove Keyword checks (offline)").click()
    if perspectives == 2:
        page.get_by_role("button", name="Remove legal").click()
        wait_idle(page)
    add_engine_ids(page, *(f"sim:s{i}?{SIM}" for i in range(1, engines + 1)))
    expect(page.get_by_text(f"{n} branches")).to_be_visible()


def run(n: int) -> None:
    perspectives, engines = SIZES[n]
    server = private_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 2400}, accept_downloads=True)
            page.set_default_timeout(60_000)
            page.add_init_script(WS_WATCH)
            page.goto(server.url)
            wait_idle(page)
            setup(page, n, perspectives, engines)
            page.evaluate(SAMPLER)  # sampling before the click: the first card to stream is seen from its start
            page.get_by_role("button", name="Run").click()
            page.wait_for_function(STREAMED_A_SECOND, arg=n, polling=100, timeout=60_000)
            shot_from = shot_to = page.evaluate("() => performance.now()")
            if page.evaluate("(n) => window.__samples.at(-1).done < n", n):
                shot(page, f"bench-{n}-mid-run")  # test-artifacts/: look at it
                shot_to = page.evaluate("() => performance.now()")
            else:
                print("(no mid-run screenshot: the run had ended before any card was seen streaming for a second)")
            page.wait_for_function("(n) => window.__samples.at(-1).done >= n", arg=n, polling=100, timeout=120_000)
            recorded = page.evaluate("() => window.__stop()")
            wait_idle(page)
            page.get_by_text(f"{n} of {n}").first.wait_for()
            shot(page, f"bench-{n}-final")
            with page.expect_download() as download:
                page.get_by_role("button", name="Download JSON").click()
            result = json.loads(Path(download.value.path()).read_text())
            browser.close()
    finally:
        server.stop()
    report(n, perspectives, engines, result, recorded, (shot_from, shot_to))


def changes(samples: list[dict], shot: tuple[float, float]) -> tuple[dict[str, float], dict[str, float],
                                                                     dict[str, int], dict[str, list[float]]]:
    """Per card (by its key or place): the fraction of its streaming sample pairs in which its shown text changed;
    the same with a late pair counted as the 100-ms samples it stands for (a pair 400 ms apart: 4, of which at most
    one changed — a busy page delays its timer, and its screen did not change meanwhile); when (ms, the pair's first
    sample) it did not change; and why pairs were left out (no text yet, shown text not found, within the mid-run
    screenshot)."""
    fractions: dict[str, float] = {}
    in_time: dict[str, float] = {}
    still: dict[str, list[float]] = {}
    left_out = {"streaming pairs": 0, "no text yet": 0, "shown text not found": 0, "during the screenshot": 0}
    for key in {k for sample in samples for k in sample["cards"]}:
        pairs = changed = slots = 0
        for before, after in zip(samples, samples[1:], strict=False):
            a, b = before["cards"].get(key), after["cards"].get(key)
            if not a or not b or a["badge"] != "streaming" or b["badge"] != "streaming":
                continue
            left_out["streaming pairs"] += 1
            if after["t"] >= shot[0] and before["t"] <= shot[1]:
                left_out["during the screenshot"] += 1
            elif a["shown"] is None or b["shown"] is None:
                left_out["shown text not found"] += 1
            elif a["shown"].strip() in ("", "…"):
                left_out["no text yet"] += 1
            else:
                pairs += 1
                slots += max(1, round((after["t"] - before["t"]) / 100))
                changed += a["shown"] != b["shown"]
                if a["shown"] == b["shown"]:
                    still.setdefault(key, []).append(before["t"])
        if pairs:
            fractions[key], in_time[key] = changed / pairs, changed / slots
    return fractions, in_time, left_out, still


def report(n: int, perspectives: int, engines: int, result: dict, recorded: dict, shot: tuple[float, float]) -> None:
    samples = recorded["samples"]
    clicked = recorded["clicked"]
    if clicked is None:  # the page saw no click on a button reading "Run" (renamed?): time from the first sample
        print("(the click on Run was not seen in the page: times are from the sampler's start)")
        clicked = samples[0]["t"]
    end = next(s["t"] for s in samples if s["done"] >= n)
    slowest = max(b["latency_ms"] for b in result["branches"]) / 1000
    steps = sorted(b["t"] - a["t"] for a, b in zip(samples, samples[1:], strict=False) if a["t"] >= clicked)
    frames = [t for t in recorded["frames"] if clicked <= t <= end]
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    sent = [size for t, size in recorded["ws"] if clicked <= t <= end]
    browser_wall = (end - clicked) / 1000
    fractions, in_time, left_out, still = changes([s for s in samples if s["t"] >= clicked], shot)
    print(f"== {n} branches ({perspectives} perspectives × {engines} engines, sim {SIM})")
    print(f"branches: {len(result['branches'])}, all ok: {all(b['status'] == 'ok' for b in result['branches'])}")
    print(f"slowest branch {slowest:.2f} s; run wall {result['wall_ms'] / 1000:.2f} s -> "
          f"wall/slowest {result['wall_ms'] / 1000 / slowest:.3f} (target <= 1.10)")
    print(f"as the browser saw it (click on Run to the last 'done' badge): {browser_wall:.2f} s -> "
          f"{browser_wall / slowest:.3f}")
    print(f"samples (in the page): {len(steps) + 1} from the click, every {statistics.median(steps):.0f} ms "
          f"(median), 90th percentile {steps[int(len(steps) * 0.9)]:.0f} ms, longest {steps[-1]:.0f} ms; each took "
          f"{statistics.median(s['cost'] for s in samples):.1f} ms (median) of the page's time")
    if fractions:
        values = sorted(fractions.values())
        print(f"visible cards measured: {len(values)} of {n}; streaming sample pairs {left_out['streaming pairs']}, "
              f"left out: " + ", ".join(f"{v} {k}" for k, v in left_out.items() if k != "streaming pairs" and v))
        print(f"fraction of 100-ms samples in which a streaming card's shown text changed: min {values[0]:.0%}, "
              f"median {statistics.median(values):.0%}, mean {statistics.mean(values):.0%} (target: every card >= 90%)")
        timed = sorted(in_time.values())
        print(f"  the same, a late sample counted as the 100-ms samples it stands for: min {timed[0]:.0%}, "
              f"median {statistics.median(timed):.0%}, mean {statistics.mean(timed):.0%}")
        for key in sorted((k for k in fractions if fractions[k] < 0.9), key=fractions.get):
            print(f"  {key.removeprefix('st-key-')} {fractions[key]:.0%}: unchanged from "
                  + ", ".join(f"{(t - clicked) / 1000:.1f}" for t in still[key]) + " s after the click")
    else:
        seen = sum(any(c["badge"] == "streaming" for c in s["cards"].values()) for s in samples)
        print(f"no streaming card could be measured: {seen} of {len(samples)} samples saw a card whose badge read "
              "'streaming'; " + (", ".join(f"{v} {k}" for k, v in left_out.items()) if seen else
                                 "the page never showed one on screen between two samples (it drew the run only "
                                 "after it ended?)"))
    print(f"frames during the run: {len(frames)}, longest gap {max(gaps):.0f} ms, gaps over 200 ms: "
          f"{sum(g > 200 for g in gaps)} ({sum(g for g in gaps if g > 200) / 1000:.1f} s in all)")
    print(f"server -> page during the run: {len(sent)} messages, {sum(sent) / 1e6:.1f} MB "
          f"({len(sent) / browser_wall:.0f} messages/s)")


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or list(SIZES):
        run(size)
