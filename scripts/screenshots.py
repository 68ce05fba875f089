"""Regenerate the README's screenshots (docs/*.png) from a fresh app with no key: demo and offline engines only.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, add_engine_ids, choose_matrix, wait_idle  # noqa: E402

WIDTH, HEIGHT = 1500, 2000


def crop(png: bytes, top: float, out: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    top = max(0, min(int(top), image.height - HEIGHT))
    image.crop((0, top, WIDTH, top + HEIGHT)).save(out)


def main() -> None:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_KEY"))}
    env["PARALLAX_HOME"] = str(home)
    server = StreamlitServer(home, env, app=ROOT / "app.py")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": WIDTH, "height": 6000}, color_scheme="light")
            page.goto(server.url)
            page.get_by_role("heading", name="Review").wait_for(timeout=30_000)
            choose_matrix(page)
            page.get_by_role("button", name="Remove Keyword checks (offline)").wait_for()
            wait_idle(page)
            add_engine_ids(page, "sim:fast?latency=0.3&tokens=30&rate=25")
            page.get_by_text("6 branches").wait_for()
            wait_idle(page)
            page.get_by_role("button", name="Run").click()
            page.get_by_text("How the reducer merged").wait_for(timeout=60_000)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            wait_idle(page)
            time.sleep(2)  # plotly finishes drawing
            shot = page.screenshot(full_page=False)
            crop(shot, 0, ROOT / "docs" / "screenshot.png")
            box = page.get_by_role("heading", name="Issues from all perspectives").bounding_box()
            crop(shot, (box or {"y": 0})["y"] - 320, ROOT / "docs" / "screenshot-charts.png")
            page.goto(f"{server.url}/translate")
            page.get_by_role("heading", name="Translate").wait_for(timeout=30_000)
            page.locator("input[aria-label='Judge each translation this many times']").fill("3")
            page.keyboard.press("Enter")
            wait_idle(page)
            page.get_by_role("button", name="Run").click()
            page.get_by_text("Segments: the source in").first.wait_for(timeout=60_000)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            wait_idle(page)
            time.sleep(2)
            shot = page.screenshot(full_page=False)
            box = page.get_by_role("heading", name="Translate").bounding_box()
            crop(shot, 0 if box is None else box["y"] + 700, ROOT / "docs" / "screenshot-translate.png")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
