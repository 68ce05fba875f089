"""A finished 12-branch review (3 perspectives × 4 engines) on a phone, 390 px wide: the aggregate and the per-engine
table come before the cards, each card is a short preview, nothing sticks out sideways, and the page is shorter —
for the finished run and for the same run opened from its address. At 1440 px the cards still come first."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.harness import (
    BADGE_COUNT,
    LEGEND_OVER_TITLES,
    add_engine_ids,
    choose_matrix,
    none_left,
    open_app,
    shot,
    wait_idle,
)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
# Measured at 390 px with these engines: 8,266 px before the phone layout, about 6,600 px with it (the form above the
# results, about 2,000 px, and the charts below them, about 2,000 px, read as before).
PHONE_HEIGHT_MAX = 7_300
CARD_MAX = 241  # px: a collapsed card is 15rem high
# Where things are, in px from the top of the page (stMain scrolls, not the document).
POSITIONS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const top = el => el ? Math.round(el.getBoundingClientRect().top - main.getBoundingClientRect().top
                                    + main.scrollTop) : null;
  const find = (selector, text) => [...document.querySelectorAll(selector)]
    .find(e => e.innerText.trim().startsWith(text));
  const badge = [...document.querySelectorAll('[data-testid=stMarkdownContainer] span')]
    .find(s => s.children.length === 0 && s.innerText.trim() === 'done');
  return {height: main.scrollHeight, sideways: main.scrollWidth - main.clientWidth,
          aggregate: top(find('[data-testid=stMetricLabel]', 'Aggregate score')),
          table: top(find('h3', 'Per engine')), card: top(badge),
          cards: [...document.querySelectorAll("[class*='st-key-review_board_card']")]
            .map(c => Math.round(c.getBoundingClientRect().height))};
}"""
DESKTOP_ORDER = f"() => {{ const p = ({POSITIONS})(); return p.card < p.aggregate && p.aggregate < p.table; }}"


def finished(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(f"() => ({BADGE_COUNT})('done') === 12", polling=200, timeout=45_000)
    expect(page.get_by_role("heading", name="Per engine", exact=True)).to_be_visible(timeout=45_000)
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Aggregate score")).to_be_visible(timeout=45_000)
    # Every chart drawn (heatmap, scores, latency, timeline): the page has its full height.
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4",
                           timeout=45_000)
    wait_idle(page)


def phone_checks(page, name: str) -> dict:  # type: ignore[no-untyped-def]
    at = page.evaluate(POSITIONS)
    assert None not in (at["aggregate"], at["table"], at["card"]), at
    assert at["aggregate"] < at["table"] < at["card"], at  # the aggregate, then the table, then the cards
    assert len(at["cards"]) == 12 and max(at["cards"]) <= CARD_MAX, at
    assert at["height"] < PHONE_HEIGHT_MAX, at
    assert at["sideways"] <= 0, at  # only the grid scrolls sideways, inside its own box
    none_left(page, LEGEND_OVER_TITLES)  # legends wrap onto rows of their own
    shot(page, name)
    return at


def test_a_phone_shows_the_aggregate_and_table_first_and_the_cards_collapsed(browser, start_app, tmp_path):
    server = start_app({"PARALLAX_DATABASE_URL": f"sqlite:///{tmp_path}/history.db"})
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(45_000)
    try:
        open_app(page, server)
        choose_matrix(page)
        page.get_by_role("button", name="Remove Keyword checks (offline)").click()
        wait_idle(page)
        add_engine_ids(page, *(f"sim:e{i}?latency=0.1&tokens=120&rate=400" for i in range(1, 5)))
        expect(page.get_by_text(re.compile(r"^Runs exactly these 4 engines:"))).to_be_visible()
        page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Run", exact=True).click()
        finished(page)
        phone_checks(page, "phone-390-finished")

        # A collapsed card opens whole with its expander.
        card = page.locator("[class*='st-key-review_board_card']").first
        card.get_by_text("Prompt and raw reply").click()
        page.wait_for_function("(min) => document.querySelector(\"[class*='st-key-review_board_card']\")"
                               ".getBoundingClientRect().height > min", arg=CARD_MAX * 2)
        card.get_by_text("Prompt and raw reply").click()
        wait_idle(page)  # closing it reruns the page (it is drawn only when open)

        # On a desktop nothing moves: the cards, then the aggregate, then the table, and the cards whole.
        page.set_viewport_size(DESKTOP)
        page.wait_for_function(DESKTOP_ORDER)
        none_left(page, f"() => ({POSITIONS})().cards.filter(h => h <= {CARD_MAX})")
        shot(page, "phone-1440-finished")

        # The same run opened from its address (History's link): the same layout.
        run_id = re.search(r"[?&]run=([^&]+)", page.url)
        assert run_id is not None
        linked = browser.new_page(viewport=PHONE)
        linked.set_default_timeout(45_000)
        try:
            linked.goto(f"{server.url}/?run={run_id.group(1)}")
            finished(linked)
            phone_checks(linked, "phone-390-linked")
            linked.set_viewport_size(DESKTOP)
            linked.wait_for_function(DESKTOP_ORDER)
        finally:
            linked.close()
    finally:
        page.close()
