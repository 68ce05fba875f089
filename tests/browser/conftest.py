"""A real browser (Debian chromium driven by Playwright) against the web app on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer, shot

# Playwright's expect() retries for 5 s by default: a loaded machine (CI's two cores running the app, the browser
# and the test) can take longer to draw a page. Every expect waits up to 30 s, as the page's own default does.
expect.set_options(timeout=30_000)


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

    def start(extra_env: dict[str, str | None] | None = None, cwd: Path | None = None,
              command: Callable[[int], list[str]] | None = None) -> StreamlitServer:
        """The app's server, by default `streamlit run app.py` in a temporary folder; None in extra_env unsets."""
        env: dict[str, str | None] = {k: v for k, v in os.environ.items()
                                      if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
        env.update({"PYTHONPATH": str(ROOT), **(extra_env or {})})
        server = StreamlitServer(cwd or tmp_path, {k: v for k, v in env.items() if v is not None},
                                 command=command, log=tmp_path / "streamlit.log")
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
