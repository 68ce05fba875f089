"""The web app in a real browser: a Streamlit server on a free port and Debian's chromium driven by Playwright.

Shared by the browser tests, bench/ and scripts/ (a support module: it holds no tests and no fixtures).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
# Page functions: the text of the cards streaming (once N are; a live card's text is a .pl-live element,
# components/grid.py), and how many status badges read a label.
STREAMING_CARDS = """(n) => {
  const codes = [...document.querySelectorAll('.pl-live')]
    .map(e => e.innerText.trim()).filter(t => t.length > 3 && t !== '…');
  const streaming = [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
    .filter(s => s.children.length === 0 && s.innerText.trim() === 'streaming').length;
  return codes.length >= n && streaming >= n ? codes : false;
}"""
BADGE_COUNT = """(label) => [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
  .filter(s => s.children.length === 0 && s.innerText.trim() === label).length"""
# The titles of the charts whose toolbar (drawn on hover) would lie over their title.
TOOLBAR_OVER_TITLE = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(chart => {
  const bar = chart.querySelector('.modebar'), title = chart.querySelector('.gtitle');
  if (!bar || !title) return false;
  const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}).map(chart => chart.querySelector('.gtitle').textContent)"""

# The titles of the charts whose legend lies over their title or an axis title (a legend wrapped on a phone grew over
# the title).
LEGEND_OVER_TITLES = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(chart => {
  const legend = chart.querySelector('.legend');
  if (!legend) return false;
  const a = legend.getBoundingClientRect();
  return [...chart.querySelectorAll('.gtitle, .xtitle, .ytitle')].some(t => { const b = t.getBoundingClientRect();
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; });
}).map(chart => (chart.querySelector('.gtitle') || {}).textContent)"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_run(app: Path | str) -> Callable[[int], list[str]]:
    """The command line of `streamlit run APP` on a given loopback port."""
    return lambda port: [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless=true",
                         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"]


class StreamlitServer:
    """`streamlit run app.py` (or `command(port)`) on a free loopback port; returns once the port accepts
    connections — before any page is opened, so the first page a test opens is the server's first session."""

    def __init__(self, cwd: Path, env: dict[str, str], app: Path = ROOT / "app.py", *,
                 command: Callable[[int], list[str]] | None = None, log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log or cwd / "streamlit.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.spawned_at = time.perf_counter()
        # A session of its own: stop() ends what the command started too (`make run` starts the server as a child).
        self.process = subprocess.Popen((command or streamlit_run(app))(self.port), cwd=cwd, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for the port to accept connections
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("the server did not start within 60 s")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self.log.close()


def private_server() -> StreamlitServer:
    """The app with no key and a history of its own in a new folder (for benches: the user's history is never
    written, and no earlier run's cache answers their calls)."""
    home = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PARALLAX_DATABASE_URL"}
    return StreamlitServer(home, {**env, "PYTHONPATH": str(ROOT), "PARALLAX_HOME": str(home)})


def none_left(page, function: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until a page function's list is empty (a chart lays itself out again once drawn); fails with the list."""
    try:
        page.wait_for_function(f"() => ({function})().length === 0", polling=100, timeout=10_000)
    except PlaywrightTimeoutError:
        assert page.evaluate(function) == []


def wait_idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=60_000)


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def add_engine_ids(page, *engine_ids: str) -> None:  # type: ignore[no-untyped-def]
    """Open "Use another engine id" and add each id as a user would: type it, Enter, then "Add engine".

    Each step waits for the page's answer to the one before (a click during a rerun was lost on CI): Enter commits
    the text, which enables the button; the click adds the id, which empties the field.
    """
    page.get_by_text("Use another engine id").click()
    field, add = page.get_by_label("Engine id"), page.get_by_role("button", name="Add engine")
    for engine_id in engine_ids:
        field.fill(engine_id)
        field.press("Enter")
        expect(add).to_be_enabled(timeout=30_000)
        wait_idle(page)
        add.click()
        expect(field).to_have_value("", timeout=30_000)
        wait_idle(page)


def choose_matrix(page) -> None:  # type: ignore[no-untyped-def]
    """Switch Review to "Matrix" as a user would (a click on its label) and wait for the engines list it shows. Not
    `check()`: a click while the page is busy (starting its chart script) is answered late, and `check()` fails at
    once when the state has not changed yet."""
    page.get_by_text("Matrix: every perspective × every engine").click()
    expect(page.get_by_text(re.compile(r"^Runs exactly these \d+ engines?:"))).to_be_visible(timeout=30_000)
    wait_idle(page)


def open_app(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    wait_idle(page)
    page.get_by_role("heading", name="Review").wait_for()
