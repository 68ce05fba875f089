"""A blind vote in a real browser: nothing in the vote widget names an engine before the vote, the engines are
revealed after it, and the vote is still there when the run is reopened in History after a reload."""

from __future__ import annotations

import re

from components.names import display_name, display_names
from parallax.storage import Store
from tests.browser.harness import ARTIFACTS, wait_idle

# The vote widget of the Translate page (its key: translate_vote_RUN_ID; the run id has no "_"), and its text.
WIDGET_TEXT = """(prefix) => {
  const found = [...document.querySelectorAll(`[class*="st-key-${prefix}"]`)]
    .find(e => [...e.classList].some(c => new RegExp(`^st-key-${prefix}[^_]+$`).test(c)));
  return found ? found.innerText : false;
}"""
SEGMENTS_TEXT = """(prefix) => {
  const found = [...document.querySelectorAll(`[class*="st-key-${prefix}"]`)]
    .find(e => [...e.classList].some(c => new RegExp(`^st-key-${prefix}[^_]+_segments$`).test(c)));
  return found && found.innerText.includes('Segment 1') ? found.innerText : false;
}"""


def engine_names(history_db: str, run_id: str) -> list[str]:
    """Every engine id of the run, the judge's, each part of a fallback chain, and their display names."""
    record = Store(history_db).load_run(run_id)
    ids = {r.engine for r in record.results.values()} | {record.settings["translation"]["judge"]}
    ids |= {p for e in ids for p in e.split("|")}
    return sorted(ids | set(display_names(ids).values()) | {display_name(e) for e in ids})


def named(text: str, names: list[str]) -> list[str]:
    return [n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE)]


def widget_shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """The Vote section only: from its heading to the end of the per-segment vote."""
    ARTIFACTS.mkdir(exist_ok=True)
    top = page.get_by_role("heading", name="Vote").bounding_box()
    bottom = page.get_by_text("Vote per segment").bounding_box()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True,
                    clip={"x": top["x"] - 20, "y": top["y"] - 10, "width": 1100,
                          "height": bottom["y"] + bottom["height"] - top["y"] + 40})


def test_a_blind_vote_names_no_engine_before_it_is_cast_and_survives_a_reload(page, start_app, history_db):
    # Other work edits this checkout meanwhile: a watching server would reload its modules mid-test.
    server = start_app({"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"})
    page.goto(f"{server.url}/translate")
    wait_idle(page)
    page.get_by_role("heading", name="Translate").wait_for()
    page.get_by_role("button", name="Run").click()
    page.get_by_role("heading", name="Vote").wait_for(timeout=45_000)
    wait_idle(page)
    run_id = page.evaluate("() => new URLSearchParams(location.search).get('run')")
    names = engine_names(history_db, run_id)
    assert {"alpha", "beta", "judge", "Pseudo-localisation", "offline:pseudo"} <= set(names)

    before = page.wait_for_function(WIDGET_TEXT, arg="translate_vote_", polling=100, timeout=45_000).json_value()
    assert "A is better" in before and "B is better" in before and "Both bad" in before
    assert named(before, names) == [] and "score" not in before.lower()
    page.get_by_text("Vote per segment").click()
    segments = page.wait_for_function(SEGMENTS_TEXT, arg="translate_vote_", polling=100, timeout=45_000).json_value()
    assert "Save my segment votes" in segments and named(segments, names) == []
    page.get_by_text("Vote per segment").click()  # closed again
    widget_shot(page, "vote-before")

    page.get_by_role("button", name="A is better").click()
    after = page.wait_for_function(
        f"() => {{ const t = ({WIDGET_TEXT})('translate_vote_'); return t && t.includes('Your vote') ? t : false; }}",
        polling=100, timeout=45_000).json_value()
    wait_idle(page)
    vote = Store(history_db).votes(run_id)[0]
    record = Store(history_db).load_run(run_id)
    shown = display_names([r.engine for r in record.results.values()])
    a, b = (shown[record.results[side].engine] for side in (vote.left, vote.right))
    assert f"Your vote: A is better. A was {a} " in after and f"B was {b} " in after
    assert "Next pair" in after
    widget_shot(page, "vote-after")

    page.reload()  # a new browser session: the vote is in the history, not in this session's state
    wait_idle(page)
    page.goto(f"{server.url}/history?run={run_id}")
    wait_idle(page)
    page.get_by_role("heading", name="Votes (1)").wait_for(timeout=45_000)
    page.get_by_role("button", name="Download votes CSV").wait_for(timeout=45_000)
    wait_idle(page)
    # The engines are named on History: the vote's agreement line names the judge, the table the two engines.
    page.get_by_text("agreed with the votes on this run on", exact=False).wait_for(timeout=45_000)
    page.get_by_role("heading", name="Votes (1)").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "vote-history.png"), full_page=False)
