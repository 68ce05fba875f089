"""Untrusted text stays text in a real browser: model output, judge fields, provider errors and engine ids carrying
markdown, HTML and link payloads create no image, no link, no dialog and no request to another host, and show
verbatim."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from tests.browser.harness import add_engine_ids, choose_matrix, open_app, shot, wait_idle
from tests.fakes.provider_server import FakeProviders, ok, status

PAYLOADS = [line for line in (Path(__file__).parents[1] / "data" / "markup_payloads.txt").read_text(
    encoding="utf-8").splitlines() if line and not line.startswith("#")]
KEY = "fake-key-browser-0123456789abcdefghij"
EVIL_ID = "sim:![id](http://evil.example/id.png)"
CREATED = """() => ({
  // (a plotly heatmap draws its cells as one PNG of the numbers: Parallax's chart, not text from a model)
  images: [...document.querySelectorAll('img, svg image, iframe, source')]
     .filter(e => !e.closest('.js-plotly-plot')).map(e => e.src || e.href?.baseVal || '')
     .filter(src => src && !src.startsWith(location.origin) && !src.startsWith('blob:' + location.origin)
                     && !src.startsWith('data:image/svg')),
  links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
     .filter(h => /evil|javascript:|mailto:|data:/i.test(h)),
})"""


def hostile_judgement() -> str:
    return json.dumps({
        "summary": "\n".join(PAYLOADS), "strengths": PAYLOADS[:4], "score": 4, "confidence": 0.5,
        "issues": [{"severity": "major", "quote": p, "note": p} for p in PAYLOADS],
    })


def watch(page) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    dialogs: list[str] = []
    elsewhere: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: urlparse(r.url).hostname not in (None, "127.0.0.1", "localhost")
            and not r.url.startswith("data:") and elsewhere.append(r.url))
    return dialogs, elsewhere


def shown_inert(page, name: str, dialogs: list[str], elsewhere: list[str]) -> str:  # type: ignore[no-untyped-def]
    """Once the run's results are drawn: nothing was created or loaded from the payloads. Returns the page's text as
    a reader sees it (the invisible joiners that keep URLs from linking removed)."""
    page.get_by_role("button", name="Download CSV").first.wait_for(timeout=60_000)
    wait_idle(page)
    shot(page, name)
    assert dialogs == []
    assert elsewhere == []  # not even the favicon or a font: the page needs no other host
    assert page.evaluate(CREATED) == {"images": [], "links": []}
    assert "Traceback" not in page.content()
    return str(page.inner_text("body")).replace("\u2060", "")


def test_review_output_errors_and_engine_ids_stay_text(page, start_app):
    fake = FakeProviders()
    original = fake.next_reply
    fake.next_reply = lambda model: (ok(hostile_judgement()) if model == "gpt-4o-mini" else
                                     status(400, {"error": {"message": " ".join(PAYLOADS[:8])}}) if model == "bad"
                                     else original(model))
    try:
        server = start_app({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.openai_url})
        dialogs, elsewhere = watch(page)
        open_app(page, server)
        choose_matrix(page)
        page.get_by_role("button", name="Remove gpt-4o-mini").wait_for()  # the matrix list is drawn (short names)
        add_engine_ids(page, "openai:bad", EVIL_ID)
        for label in ("bad", "Demo · ![id]"):
            page.get_by_role("button", name=f"Remove {label}").wait_for()
        page.get_by_role("button", name="Run").click()
        body = shown_inert(page, "untrusted-review", dialogs, elsewhere)
        for payload in ("![x](http://evil.example/leak.png)", "<img src=x onerror=alert(1)>",
                        "&lt;b&gt;entity&lt;/b&gt; &amp; &#x3C;img&#x3E;", "jane.doe@evil.example",
                        "https://evil.example/plain-url", ":red[coloured] :material/warning: :smile:"):
            assert payload in body, payload  # shown verbatim: not rendered, not decoded
        assert "request rejected (HTTP 400): ![x](http://evil.example/leak.png)" in body
        assert EVIL_ID.removeprefix("sim:") in body  # its short name (a grid header), shown verbatim
        # Everyone who opens this run from the (possibly shared) history sees the same inert text.
        page.goto(server.url + "/history")
        assert "![x](http://evil.example/leak.png)" in shown_inert(page, "untrusted-history", dialogs, elsewhere)
    finally:
        fake.close()


def test_translations_and_judge_fields_stay_text(page, start_app):
    fake = FakeProviders()
    errors = [{"span": p, "category": p, "severity": "major", "note": p} for p in PAYLOADS[:10]]
    judged = json.dumps({"translations": [{"label": "A", "errors": errors}]})
    # The default engine translates and judges: the judge's request is the one asking for structured output.
    fake.next_reply = lambda model: (ok(judged) if fake.requests[-1]["body"].get("response_format")
                                     else ok("\n".join(PAYLOADS)))
    try:
        server = start_app({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.openai_url})
        dialogs, elsewhere = watch(page)
        page.goto(server.url + "/translate")
        wait_idle(page)
        page.get_by_role("button", name="Run").click()
        assert "![x](http://evil.example/leak.png)" in shown_inert(page, "untrusted-translate", dialogs, elsewhere)
    finally:
        fake.close()
