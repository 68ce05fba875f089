"""A refresh mid-run in a real browser: the page comes back with the run's own inputs, not the sample text."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.harness import STREAMING_CARDS, add_engine_ids, open_app, shot, wait_idle

TEXT = ("Our backup service keeps every file for ever, guaranteed. Prices drop by half next month. "
        "Questions: write to ops@example.com.")


def test_a_refresh_mid_run_keeps_the_typed_text_and_the_chosen_engine(page, start_app):
    server = start_app()
    open_app(page, server)
    page.get_by_label("Text to review").fill(TEXT)
    page.get_by_role("heading", name="Review").click()  # blur: the text is committed
    page.get_by_text(f"{len(TEXT)} characters").wait_for()
    add_engine_ids(page, "sim:live?latency=1&tokens=120&rate=30")
    engine = page.get_by_role("combobox", name="Engine", exact=True)
    expect(engine).to_have_value(re.compile("Demo · live"), timeout=45_000)
    wait_idle(page)
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(STREAMING_CARDS, arg=1, polling=50, timeout=45_000)  # the run is under way
    expect(page).to_have_url(re.compile(r"\?run="), timeout=45_000)

    page.reload()  # a new session at the run's address
    expect(page.get_by_label("Text to review")).to_have_value(TEXT, timeout=45_000)
    expect(engine).to_have_value(re.compile("Demo · live"), timeout=45_000)
    expect(page.get_by_text("opened from its address, with its inputs above")).to_be_visible(timeout=45_000)
    wait_idle(page)
    expect(page.get_by_text("These results are for the previous input")).to_have_count(0)
    shot(page, "rerun-after-refresh")
