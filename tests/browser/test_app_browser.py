"""How the app is started and entered, in a real browser: `streamlit run app.py` from the repository's root,
`make run`, and a deep link as a fresh server's first request — each serves its page inside the frame (the
navigation and the providers' status that app.py draws)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.harness import ROOT, shot, wait_idle

PAGES = ["Review", "Translate", "Batch", "History", "Leaderboard"]


def expect_framed(page, heading: str) -> None:  # type: ignore[no-untyped-def]
    """The page `heading` drawn by app.py's frame: its navigation lists exactly our pages (a pages/ folder found
    by Streamlit would list 'app' and the file names) and the sidebar shows the providers' status."""
    wait_idle(page)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    links = page.get_by_test_id("stSidebarNavItems").get_by_role("link")
    expect(links).to_have_text([re.compile(f"{name}$") for name in PAGES])  # after the icon's name
    expect(page.get_by_test_id("stSidebar").get_by_role("heading", name="Providers")).to_be_visible()


def test_streamlit_run_app_py_from_the_root_serves_the_review_page(page, start_app):
    streamlit = str(Path(sys.executable).parent / "streamlit")
    server = start_app({"PYTHONPATH": None}, cwd=ROOT, command=lambda port: [
        streamlit, "run", "app.py", "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
        "--browser.gatherUsageStats=false"])
    page.goto(server.url)
    expect_framed(page, "Review")
    expect(page.get_by_role("button", name="Run")).to_be_enabled()
    shot(page, "app-from-root")


@pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(), reason="`make run` has not set up .venv here")
def test_make_run_serves_the_review_page(page, start_app):
    # `make run` is `.venv/bin/parallax app`: the command finds app.py in the checkout (an editable install).
    server = start_app({"PYTHONPATH": None, "MAKEFLAGS": None}, cwd=ROOT,
                       command=lambda port: ["make", "--no-print-directory", "run", f"PORT={port}"])
    page.goto(server.url)
    expect_framed(page, "Review")


def test_a_deep_link_on_a_fresh_server_runs_the_page_inside_the_frame(page, start_app):
    """Why the pages live in app_pages/: with a pages/ folder next to app.py, Streamlit runs pages/translate.py
    alone for a fresh server's first session opening /translate — no navigation of ours, no providers, no page
    config — until app.py has run once."""
    server = start_app()
    page.goto(f"{server.url}/translate")  # the server's first session
    expect_framed(page, "Translate")
    expect(page).to_have_title("Parallax")
