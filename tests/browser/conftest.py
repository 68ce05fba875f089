"""A real browser (Debian chromium driven by Playwright) against the web app on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` on a free loopback port; returns once the port accepts connections."""

    def __init__(self, cwd: Path, env: dict[str, str], app: Path = ROOT / "app.py") -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(cwd / "streamlit.log", "w")  # noqa: SIM115 - closed in stop()
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless=true",
             "--server.address=127.0.0.1", f"--server.port={self.port}", "--browser.gatherUsageStats=false"],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for the port to accept connections
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited: {(cwd / 'streamlit.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("streamlit did not start within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is open,
    # which would break the asyncio.run() of tests collected after the browser suite.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[object]:
    servers: list[StreamlitServer] = []

    def start(extra_env: dict[str, str] | None = None) -> StreamlitServer:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
        env.update({"PYTHONPATH": str(ROOT), **(extra_env or {})})
        server = StreamlitServer(tmp_path, env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def page(browser, request, start_app):  # type: ignore[no-untyped-def]
    # Depends on start_app so that a failure screenshot is taken before the server stops.
    context = browser.new_context(viewport={"width": 1500, "height": 2400}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    if getattr(request.node, "failed", False):
        shot(pg, f"failed-{request.node.name}")
    context.close()


def pytest_collection_modifyitems(items):  # type: ignore[no-untyped-def]
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True  # the page fixture saves a screenshot of what the user would have seen
    return report


def wait_idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=60_000)


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def add_engine_ids(page, *engine_ids: str) -> None:  # type: ignore[no-untyped-def]
    """Open "Use another engine id" and add each id as a user would: type it, Enter, then "Add engine"."""
    page.get_by_text("Use another engine id").click()
    for engine_id in engine_ids:
        page.get_by_label("Engine id").fill(engine_id)
        page.get_by_label("Engine id").press("Enter")
        page.get_by_role("button", name="Add engine").click()  # waits until the committed text enables it
