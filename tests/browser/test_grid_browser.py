"""The comparison grid in a real browser at 1440×900: Run on the first screen, every selected engine's chip
visible, a run brought into view, a 7-engine matrix as a grid (short engine names as column headers, perspectives
as rows) that scrolls sideways while it streams and once it is done; and a History retry that streams like a run."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.harness import BADGE_COUNT, STREAMING_CARDS, add_engine_ids, choose_matrix, open_app, shot, wait_idle

SCREEN = {"width": 1440, "height": 900}
# Every chip of the engines list: its label, and whether it is wholly inside the list's visible box and unclipped.
CHIPS = """(key) => {
  const box = document.querySelector(
    `.st-key-${key} .react-aria-ComboBox [data-testid=stMultiSelectTagsContainer]`);
  const shown = box.getBoundingClientRect();
  return [...box.querySelectorAll('[data-tag]')].map(tag => {
    const r = tag.getBoundingClientRect(), text = tag.querySelector('span[title]');
    return {label: text.innerText, inside: r.left >= shown.left - 1 && r.right <= shown.right + 1
            && r.top >= shown.top - 1 && r.bottom <= shown.bottom + 1,
            whole: text.scrollWidth <= text.clientWidth + 1};
  });
}"""
# The grid with this key: its column headers, their widths, its rows' headers, and whether it scrolls sideways.
GRID = """(key) => {
  const rows = document.querySelector(`.st-key-${key}_rows`);
  const scroller = document.querySelector(`.st-key-${key}_scroll`);
  if (!rows || !scroller) return null;
  const blocks = [...rows.querySelectorAll(':scope > div > [data-testid=stHorizontalBlock]')];
  const cells = block => [...block.children];
  return {headers: cells(blocks[0]).slice(1).map(c => c.innerText.trim()),
          widths: cells(blocks[0]).slice(1).map(c => c.getBoundingClientRect().width),
          rows: blocks.slice(1).map(b => cells(b)[0].innerText.trim()),
          cards: blocks.slice(1).map(b => cells(b).length - 1),
          scrolls: scroller.scrollWidth > scroller.clientWidth + 10};
}"""


def add_matrix_engines(page, engine_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    add_engine_ids(page, *engine_ids)
    expect(page.get_by_text(re.compile(rf"^Runs exactly these {len(engine_ids)} engines?:"))).to_be_visible()


def test_a_seven_engine_matrix_is_a_grid_live_and_finished(browser, start_app):
    page = browser.new_page(viewport=SCREEN)
    page.set_default_timeout(30_000)
    try:
        server = start_app()
        open_app(page, server)
        run = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Run", exact=True)
        box = run.bounding_box()
        assert box is not None and box["y"] + box["height"] <= SCREEN["height"]  # on the first screen
        choose_matrix(page)
        page.get_by_role("button", name="Remove Keyword checks (offline)").click()
        page.get_by_role("button", name="Remove business").click()
        wait_idle(page)
        # model-0 ends in about a second, the others stream for twelve: a finished card shows in the live grid.
        ids = ["sim:model-0?latency=0.3&tokens=20&rate=40"]
        ids += [f"sim:model-{i}?latency=0.3&tokens=300&rate=25" for i in range(1, 7)]
        add_matrix_engines(page, ids)
        # Every selected engine is visible and whole in the list (they wrap), by its short name.
        chips = page.evaluate(CHIPS, "review_engines_many")
        assert [c["label"] for c in chips] == [f"Demo · model-{i}" for i in range(7)]
        assert all(c["inside"] and c["whole"] for c in chips), chips
        shot(page, "grid-7-engines-picked")

        # model-0's two cards finished while the rest stream: the live grid read in the page at that very moment (a
        # recorder every 50 ms, installed before the click: a loaded machine may end the run before a later read from
        # here), and the run brought into view: its progress on the screen with 300 px below it for the cards' start
        # (it was at 1,106 px of a 900-px screen before; how far up it goes depends on the page's height). The
        # states it went through are kept to say what the page showed if that moment never came.
        page.evaluate(f"""() => {{ window.__live = null; window.__states = [];
          const tick = () => {{
            const done = ({BADGE_COUNT})('done'), streaming = ({BADGE_COUNT})('streaming');
            const top = document.querySelector('.st-key-review_running')?.getBoundingClientRect().top;
            const state = `done ${{done}} streaming ${{streaming}} top ${{Math.round(top)}}`;
            if (window.__states.at(-1) !== state) window.__states.push(state);
            const shown = top >= 0 && top < innerHeight - 300;
            if (done === 2 && streaming >= 4 && shown) window.__live = ({GRID})('review_live');
            if (!window.__live && done < 14) setTimeout(tick, 50); }};
          tick(); }}""")
        run.click()
        page.wait_for_function("() => window.__live || window.__states.at(-1).startsWith('done 14')", polling=100,
                               timeout=60_000)
        live = page.evaluate("window.__live")
        assert live is not None, page.evaluate("window.__states")
        assert live["headers"] == [f"model-{i}" for i in range(7)] and live["rows"] == ["technical", "legal"]
        assert live["cards"] == [7, 7] and live["scrolls"] and min(live["widths"]) >= 199, live
        shot(page, "grid-7-engines-live")

        page.wait_for_function(f"() => ({BADGE_COUNT})('done') === 14", polling=200, timeout=60_000)
        wait_idle(page)
        done = page.evaluate(GRID, "review_board")
        assert done["headers"] == [f"model-{i}" for i in range(7)] and done["rows"] == ["technical", "legal"]
        assert done["cards"] == [7, 7] and done["scrolls"] and min(done["widths"]) >= 199, done
        assert "latency=0.3&" not in page.get_by_test_id("stMainBlockContainer").inner_text()
        shot(page, "grid-7-engines-final")
    finally:
        page.close()


def test_a_history_retry_streams_into_cards_and_names_cancelled_branches(page, start_app, tmp_path):
    server = start_app({"PARALLAX_DATABASE_URL": f"sqlite:///{tmp_path}/history.db"})
    open_app(page, server)
    add_engine_ids(page, "sim:slow?latency=0.3&tokens=300&rate=40")
    expect(page.get_by_role("combobox", name="Engine", exact=True)).to_have_value(re.compile("slow"))
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function(STREAMING_CARDS, arg=3, polling=50, timeout=45_000)
    main.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped:").wait_for()
    wait_idle(page)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="History").click()
    page.get_by_role("heading", name="History").wait_for()
    retry = main.get_by_role("button", name=re.compile("Retry: "))
    expect(retry).to_have_text(re.compile("Retry: 3 cancelled branches"), timeout=30_000)  # not "failed"
    wait_idle(page)
    retry.click()
    # Like a run: the retried branches stream in their cards, the bar counting them.
    page.wait_for_function(STREAMING_CARDS, arg=3, polling=50, timeout=45_000)
    expect(page.get_by_text(re.compile(r"^\d of 3 branches finished · "))).to_be_visible()
    shot(page, "history-retry-streaming")
    page.get_by_text("Retried: 3 of 3 branch(es) now succeeded.").wait_for(timeout=60_000)
    assert page.evaluate(BADGE_COUNT, "done") == 3


def test_every_translation_engine_chip_is_whole_and_visible(page, start_app):
    server = start_app()
    page.set_viewport_size(SCREEN)
    page.goto(f"{server.url}/translate")
    wait_idle(page)
    page.get_by_role("heading", name="Translate").wait_for()
    page.locator(".st-key-translate_engines_many [data-tag]").first.wait_for()
    chips = page.evaluate(CHIPS, "translate_engines_many")
    # The third chip read "Dem…" behind a fade: now each reads whole, by its short name.
    assert [c["label"] for c in chips] == ["Pseudo-localisation", "Demo · alpha", "Demo · beta"]
    assert all(c["inside"] and c["whole"] for c in chips), chips


def test_sixteen_selected_engines_are_all_in_view(page, start_app):
    server = start_app()
    page.set_viewport_size(SCREEN)
    open_app(page, server)
    choose_matrix(page)
    page.get_by_role("button", name="Remove Keyword checks (offline)").click()
    wait_idle(page)
    add_matrix_engines(page, [f"sim:e{i}?latency=0.1" for i in range(1, 17)])
    # Streamlit keeps about four rows of chips in view and scrolls the rest away: all 16 must be seen.
    expect(page.locator(".st-key-review_engines_many [data-tag]")).to_have_count(16)
    chips = page.evaluate(CHIPS, "review_engines_many")
    assert [c["label"] for c in chips] == [f"Demo · e{i}" for i in range(1, 17)]
    assert all(c["inside"] and c["whole"] for c in chips), [c["label"] for c in chips if not c["inside"]]


# From the click on Run until the charts are drawn, every 25 ms: how many grey placeholders (Streamlit's skeletons
# of elements still loading) are visible at once, the most seen, and whether the charts are there yet.
SKELETONS = """() => { window.__most = 0; window.__charted = false;
  const tick = () => {
    const seen = [...document.querySelectorAll('[data-testid=stSkeleton]')].filter(e => {
      const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length;
    window.__most = Math.max(window.__most, seen);
    window.__charted = document.querySelectorAll('.js-plotly-plot').length >= 2;
    if (!window.__charted) setTimeout(tick, 25); };
  tick(); }"""


def test_a_finished_matrix_draws_without_a_page_of_grey_placeholders(browser, start_app):
    """12 branches that end at once: the results come without the ~65 grey placeholders (mostly each card's
    prompt and reply, four code blocks per card that nobody had opened) the page showed before."""
    page = browser.new_page(viewport=SCREEN)
    page.set_default_timeout(30_000)
    try:
        server = start_app()
        open_app(page, server)
        choose_matrix(page)
        page.get_by_role("button", name="Remove Keyword checks (offline)").click()
        wait_idle(page)
        add_matrix_engines(page, [f"sim:e{i}?latency=0&tokens=30&rate=1000" for i in range(4)])
        page.evaluate(SKELETONS)
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Run", exact=True).click()
        page.wait_for_function("() => window.__charted", polling=100, timeout=60_000)
        wait_idle(page)
        assert page.evaluate(BADGE_COUNT, "done") == 12
        most = page.evaluate("window.__most")
        assert most <= 24, most  # the charts', tables' and formula's own loading, not one per code block
        # The prompt and reply are there when asked for.
        page.get_by_text("Prompt and raw reply").first.click()
        shown = page.get_by_test_id("stExpander").filter(has_text="Prompt and raw reply").first
        shown.get_by_text("Raw reply", exact=True).wait_for()
        assert "[simulated]" in shown.inner_text()
        shot(page, "grid-12-finished-prompt-open")
    finally:
        page.close()

CHART_SCRIPT_FETCHED = "() => performance.getEntriesByType('resource').some(e => e.name.includes('/PlotlyChart.'))"
VISIBLE_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length"""


def test_the_chart_script_starts_while_the_form_shows(page, start_app):
    """A session's first run drew its charts 4 s after the click, its cards after 0.4 s: the browser started the
    chart script (4.7 MB) only then. It now starts with the page, in a hidden chart (bench/page_results.py times
    both)."""
    server = start_app()
    for path, heading in (("translate", "Translate"), ("", "Review")):
        page.goto(f"{server.url}/{path}")
        wait_idle(page)
        page.get_by_role("heading", name=heading).wait_for()
        page.wait_for_function(CHART_SCRIPT_FETCHED, polling=100, timeout=30_000)
        assert page.evaluate(VISIBLE_CHARTS) == 0  # nothing of it on the screen
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function(f"() => ({VISIBLE_CHARTS})() >= 2", polling=100, timeout=60_000)
