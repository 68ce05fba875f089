"""The Review page in a real browser: branches stream side by side, results, CSV download, Stop."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.harness import (
    BADGE_COUNT,
    LEGEND_OVER_TITLES,
    STREAMING_CARDS,
    TOOLBAR_OVER_TITLE,
    add_engine_ids,
    choose_matrix,
    none_left,
    open_app,
    shot,
    wait_idle,
)
from tests.fakes.provider_server import FakeProviders, ok

TEXT = ("Our new storage tier is faster and cheaper. We guarantee your files are safe forever. "
        "Try it today: email support@example.com.")


def use_engine(page, engine_id: str, label: str) -> None:  # type: ignore[no-untyped-def]
    add_engine_ids(page, engine_id)
    # Wait for the effect, not for a script state that a fast rerun may already have left; a loaded machine (CI)
    # took more than Playwright's default 5 s for that rerun once.
    expect(page.get_by_role("combobox", name="Engine", exact=True)).to_have_value(re.compile(re.escape(label)),
                                                                                   timeout=20_000)
    wait_idle(page)


def test_three_branches_stream_at_once_then_merge_chart_and_export(page, start_app, tmp_path):
    server = start_app()
    open_app(page, server)
    page.get_by_label("Text to review").fill(TEXT)
    page.get_by_role("heading", name="Review").click()  # blur: the text is committed
    page.get_by_text(f"{len(TEXT)} characters").wait_for()
    use_engine(page, "sim:live?latency=1&tokens=120&rate=30", "Demo · live")
    page.get_by_role("button", name="Run").click()

    # All three cards show partial text at the same moment, each still streaming.
    partial = page.wait_for_function(STREAMING_CARDS, arg=3, polling=50, timeout=45_000).json_value()
    assert len(partial) == 3 and all(len(t) < 700 for t in partial)
    shot(page, "review-mid-run")

    page.get_by_text("3 of 3").wait_for(timeout=30_000)
    wait_idle(page)
    assert page.evaluate(BADGE_COUNT, "streaming") == 0
    assert page.evaluate(BADGE_COUNT, "done") == 3
    page.wait_for_selector(".js-plotly-plot")
    assert page.locator(".js-plotly-plot").count() >= 2
    none_left(page, TOOLBAR_OVER_TITLE)  # a chart's toolbar never covers its title
    none_left(page, LEGEND_OVER_TITLES)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [r["perspective"] for r in rows] == ["technical", "business", "legal"]
    assert {r["status"] for r in rows} == {"ok"} and all(float(r["score"]) > 0 for r in rows)
    shot(page, "review-final")


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    server = FakeProviders()
    yield server
    server.close()


def test_stop_cancels_every_provider_call(page, start_app, fake):
    for _ in range(3):
        fake.enqueue("slow", ok(chunks=400, delay=0.05))  # twenty seconds each if nobody stops them
    server = start_app({"OPENAI_API_KEY": "fake-key-browser-0123456789abcdefghij", "OPENAI_BASE_URL": fake.openai_url})
    open_app(page, server)
    use_engine(page, "openai:slow", "openai:slow")
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(STREAMING_CARDS, arg=3, polling=50, timeout=45_000)
    assert fake.active == 3
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
    stopped = time.monotonic()
    page.get_by_text("Stopped:").wait_for()
    page.wait_for_function(f"() => ({BADGE_COUNT})('cancelled') === 3")
    wait_idle(page)
    while fake.disconnects < 3 and time.monotonic() - stopped < 2:
        time.sleep(0.02)  # polling the server's own count, not waiting for it to happen by itself
    assert fake.disconnects == 3 and fake.active == 0  # no provider keeps streaming after the click
    assert page.evaluate(BADGE_COUNT, "streaming") == 0
    assert page.evaluate(BADGE_COUNT, "cancelled") == 3
    assert "Traceback" not in page.content()
    shot(page, "review-stopped")


def test_prompt_and_raw_reply_on_a_finished_card(page, start_app, fake):
    key = "fake-key-browser-0123456789abcdefghij"
    server = start_app({"OPENAI_API_KEY": key, "OPENAI_BASE_URL": fake.openai_url})
    open_app(page, server)
    use_engine(page, "openai:m", "openai:m")
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(f"() => ({BADGE_COUNT})('done') === 3", timeout=30_000)
    wait_idle(page)
    page.get_by_text("Prompt and raw reply").first.click()
    shown = page.get_by_test_id("stExpander").filter(has_text="Prompt and raw reply").first
    shown.get_by_text("Raw reply", exact=True).wait_for()
    # Streamlit draws a code block's skeleton first and its text once the highlighter has loaded.
    shown.locator("[data-testid='stSkeleton']").first.wait_for(state="detached")
    content = shown.inner_text()
    assert "<document>" in content and "</document>" in content and "Acme Sync 4.0" in content
    assert "structured output: json_schema" in content and "Fake provider review." in content
    assert key not in page.content()
    shot(page, "review-prompt-and-reply")


def test_streamlits_own_header_stop_ends_the_run_cleanly_and_draws_it_at_once(page, start_app, fake):
    for _ in range(3):
        fake.enqueue("slow", ok(chunks=400, delay=0.05))
    server = start_app({"OPENAI_API_KEY": "fake-key-browser-0123456789abcdefghij", "OPENAI_BASE_URL": fake.openai_url})
    open_app(page, server)
    use_engine(page, "openai:slow", "openai:slow")
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(STREAMING_CARDS, arg=3, polling=50, timeout=45_000)
    shot(page, "review-before-header-stop")
    page.get_by_test_id("stStatusWidget").get_by_role("button", name="Stop").click()  # the header's, not ours
    page.get_by_text("Stopped: 3 branch(es) cancelled").wait_for(timeout=10_000)  # no other click needed
    page.wait_for_function(f"() => ({BADGE_COUNT})('cancelled') === 3")
    wait_idle(page)
    assert page.evaluate(BADGE_COUNT, "streaming") == 0
    page.get_by_text("0 of 3").first.wait_for(timeout=5_000)  # the aggregate's metrics are drawn
    assert fake.active == 0 and "Traceback" not in page.content()
    shot(page, "review-after-header-stop")


def test_a_refresh_mid_run_keeps_finished_branches(page, start_app, tmp_path):
    server = start_app({"PARALLAX_DATABASE_URL": f"sqlite:///{tmp_path}/history.db"})
    open_app(page, server)
    choose_matrix(page)
    page.get_by_role("button", name="Remove Keyword checks (offline)").wait_for()  # the matrix list is drawn
    add_engine_ids(page, "sim:slow?latency=30")
    page.get_by_text("6 branches").wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(f"() => ({BADGE_COUNT})('done') === 3", polling=100, timeout=45_000)  # offline done
    page.reload()  # the slow ones are still waiting
    wait_idle(page)
    # the address kept the run: the page says what happened to it
    page.get_by_text("Your last run was interrupted").wait_for(timeout=10_000)
    assert page.get_by_role("link", name="Open it in History").is_visible()
    shot(page, "review-after-refresh")
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="History").click()
    page.get_by_role("heading", name="History").wait_for()
    wait_idle(page)
    # the reopened run: its finished branches kept, the unfinished ones shown as cancelled
    # (if the stopped run was still ending when History opened, History says so and updates when it has ended)
    page.wait_for_function(f"() => ({BADGE_COUNT})('cancelled') === 3")
    assert page.evaluate(BADGE_COUNT, "done") == 3
    wait_idle(page)
    shot(page, "history-after-refresh")


def test_the_app_follows_a_dark_system_setting(page, start_app):
    page.emulate_media(color_scheme="dark")
    server = start_app()
    open_app(page, server)
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(f"() => ({BADGE_COUNT})('done') === 3", timeout=30_000)
    page.wait_for_selector(".js-plotly-plot")
    wait_idle(page)
    background = page.evaluate(
        "() => getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
    red, green, blue = (int(v) for v in background[background.index("(") + 1:background.index(")")].split(",")[:3])
    assert red + green + blue < 150, background  # dark, not the light theme forced before
    shot(page, "review-dark")


def test_an_uploaded_pdf_is_shown_for_checking_and_its_findings_name_their_page(page, start_app, tmp_path):
    from tests.fakes import documents

    (tmp_path / "terms.pdf").write_bytes(documents.pdf([["Terms of service", "We may change these terms."],
                                                        ["Questions? Write to jane.doe@example.com today."]]))
    server = start_app()
    open_app(page, server)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(tmp_path / "terms.pdf")
    # (a file name is kept from becoming a link by an invisible joiner before its dot)
    page.get_by_text(re.compile(r"The text of terms\W?\.pdf \(PDF · 2 pages · 13 words\) is below")).wait_for()
    text_area = page.get_by_label("Text to review")
    expect(text_area).to_have_value(re.compile(r"^Terms of service\n.*terms\.\n\f\nQuestions"))  # the page break
    page.get_by_text(re.compile(r"^2 pages · 13 words · ")).wait_for()
    shot(page, "review-uploaded-pdf")
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(f"() => ({BADGE_COUNT})('done') === 3")
    finding = (page.get_by_test_id("stExpander").filter(has_text="Critical").get_by_role("listitem")
               .filter(has_text="Personal data"))
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text(re.compile(r"Personal data\W?: an e-mail address is exposed\W?\. — .jane\W?\.doe"))
    expect(finding).to_contain_text(re.compile(r"legal · offline\W?:rules · page 2\s*$"))
    assert "Traceback" not in page.content()
    shot(page, "review-pdf-findings")


def test_a_scanned_pdf_is_refused_with_a_clear_message_and_the_text_is_kept(page, start_app, tmp_path):
    from tests.fakes import documents

    (tmp_path / "scan.pdf").write_bytes(documents.pdf([[], []]))
    server = start_app()
    open_app(page, server)
    expect(page.get_by_label("Text to review")).not_to_have_value("")  # the sample text, once the page has it
    before = page.get_by_label("Text to review").input_value()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(tmp_path / "scan.pdf")
    page.get_by_text(re.compile(r"scan\W?\.pdf has no text to review \(a scanned PDF without a text layer\?")) \
        .wait_for()
    assert page.get_by_label("Text to review").input_value() == before


# Every live card whose text no longer fits its box: is the end of its text inside what the box shows?
# (None while no card overflows yet.) The box is the card's nearest scrolling ancestor of the text.
NEWEST_LINE_SHOWN = """() => {
  const cards = [...document.querySelectorAll('.pl-live')].map(code => {
    let box = code.querySelector('pre') || code;
    for (let e = box; e && e !== document.body; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (/(auto|scroll)/.test(style.overflowY) && e.scrollHeight > e.clientHeight + 20) { box = e; break; }
    }
    if (box.scrollHeight <= box.clientHeight + 20) return null;
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    let last = null;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.textContent.trim()) last = n;
    if (!last) return null;
    const range = document.createRange();
    range.setStart(last, Math.max(0, last.textContent.trimEnd().length - 1));
    range.setEnd(last, last.textContent.trimEnd().length);
    const end = range.getBoundingClientRect(), shown = box.getBoundingClientRect();
    return end.top >= shown.top - 1 && end.bottom <= shown.bottom + 1;
  }).filter(v => v !== null);
  return cards.length >= 2 ? cards : null;
}"""


def test_live_cards_follow_their_newest_text_and_count_tokens(page, start_app):
    server = start_app()
    open_app(page, server)
    use_engine(page, "sim:long?latency=0.3&tokens=2000&rate=60", "Demo · long")  # half a minute: Stop ends it
    page.get_by_role("button", name="Run").click()
    # Once the texts outgrow their boxes, every card still shows its newest line (not the first ones).
    page.wait_for_function(f"() => {{ const r = ({NEWEST_LINE_SHOWN})(); return r && r.every(Boolean); }}",
                           timeout=20_000)
    assert page.evaluate(BADGE_COUNT, "streaming") >= 2
    # Each card counts its tokens (estimated while streaming: "~"), its rate and its time; the bar counts tokens.
    expect(page.get_by_text(re.compile(r"^~[\d,]+ tokens · ~\d+ tokens/s · \d+\.\d s")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"of 3 branches finished · ~[\d,]+ tokens out · "))).to_be_visible()
    shot(page, "review-live-following")
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped:").wait_for()


def test_a_damaged_pdf_is_refused_in_plain_words_until_the_text_is_changed(page, start_app, tmp_path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Length 50 >>\nstream\nabc")
    server = start_app()
    open_app(page, server)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(tmp_path / "bad.pdf")
    message = page.get_by_text(re.compile(r"bad\W?\.pdf cannot be read as a PDF"))
    expect(message).to_be_visible()
    expect(message).to_contain_text("damaged or not a PDF")
    expect(message).not_to_contain_text("Stream has ended")  # the PDF library's words mean nothing to a reader
    shot(page, "review-damaged-pdf")
    page.get_by_label("Text to review").fill("")
    page.get_by_role("heading", name="Review").click()  # blur: the text is committed
    page.get_by_text(re.compile(r"^0 words · 0 characters")).wait_for()
    wait_idle(page)
    expect(message).to_have_count(0)  # the message was about a file no longer in question


def test_run_is_disabled_while_a_run_is_going(page, start_app):
    server = start_app()
    open_app(page, server)
    use_engine(page, "sim:busy?latency=0.3&tokens=2000&rate=60", "Demo · busy")
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name="Run").click()
    page.wait_for_function(STREAMING_CARDS, arg=3, polling=50, timeout=45_000)
    # While it runs, a click on Run cannot silently cancel it and start another: the button is disabled.
    run = main.get_by_role("button", name=re.compile(r"(^|\s)Run(ning…)?$"))
    expect(run).to_have_count(1)
    expect(run).to_be_disabled()
    expect(run).to_contain_text("Running")
    shot(page, "review-running")
    main.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped:").wait_for()
    wait_idle(page)
    expect(run).to_be_enabled()
    expect(run).not_to_contain_text("Running")
