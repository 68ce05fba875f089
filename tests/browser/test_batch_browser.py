"""The Batch page in a real browser: upload, run, progress, results, and a resume that redoes nothing."""

from __future__ import annotations

import csv
import re

from playwright.sync_api import expect

from tests.browser.harness import shot, wait_idle


def upload(page, server, source) -> None:  # type: ignore[no-untyped-def]
    """The Batch page, opened, with `source` uploaded."""
    page.goto(f"{server.url}/batch")
    wait_idle(page)
    page.locator("input[type=file]").set_input_files(str(source))


def test_upload_run_and_resume(page, start_app, tmp_path):
    source = tmp_path / "docs.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(30):
            writer.writerow([f"doc{i}", f"Release {i}: we guarantee uptime." if i != 7 else ""])
    server = start_app({"PARALLAX_HOME": str(tmp_path / "home")})
    upload(page, server, source)
    page.get_by_text("30 documents × 3 branches").wait_for()
    page.get_by_role("button", name="Run batch").click()
    page.get_by_text(re.compile(r"^Done: \d+ documents?")).wait_for()
    wait_idle(page)
    page.get_by_text("Results (30 documents)").wait_for()
    shot(page, "batch-final")
    results = list((tmp_path / "home" / "batches").glob("*.results.csv"))
    rows = list(csv.DictReader(results[0].open()))
    assert len(rows) == 30 and sum(r["status"] == "ok" for r in rows) == 29
    assert next(r for r in rows if r["id"] == "doc7")["error"] == "row 8: the 'text' cell is empty"
    assert "up to 200 MB" in page.content()  # a batch file may be larger than one document
    page.get_by_text("Open one document").click()  # its branches in the usual cards
    page.get_by_text("done", exact=True).first.wait_for()
    shot(page, "batch-document")
    page.reload()
    wait_idle(page)
    page.locator("input[type=file]").set_input_files(str(source))
    page.get_by_text("all done: the results are below").wait_for()  # not "30 already done in an earlier run"
    assert page.get_by_role("button", name="Run batch").is_disabled()  # nothing to resume, nothing to run
    assert page.get_by_role("button", name="Resume batch").count() == 0


def test_engines_without_a_batch_api_are_named_before_sending_and_the_button_stays_off(page, start_app, tmp_path):
    source = tmp_path / "docs.csv"
    source.write_text("id,text\nd1,We guarantee uptime.\n", encoding="utf-8")
    server = start_app({"PARALLAX_HOME": str(tmp_path / "home")})  # no key: the offline engine is the default
    upload(page, server, source)
    page.get_by_role("button", name="Run batch").wait_for()
    page.get_by_text("Provider batch APIs").click()
    warning = page.get_by_text("has no batch API")
    warning.wait_for()
    said = warning.inner_text().replace("\u2060", "")  # the page breaks link patterns with a word joiner
    assert "engines; offline:rules has no batch API" in said  # the engine id as typed, not capitalised
    assert page.get_by_role("button", name="Send provider batch").is_disabled()
    shot(page, "batch-provider-refused")


def test_a_translate_batch_writes_the_translations(page, start_app, tmp_path):
    source = tmp_path / "docs.csv"
    source.write_text("id,text\n" + "".join(f"d{i},The report number {i} is ready for you.\n" for i in range(4)),
                      encoding="utf-8")
    server = start_app({"PARALLAX_HOME": str(tmp_path / "home")})
    upload(page, server, source)
    page.get_by_role("radio", name="translate").check(force=True)
    page.get_by_text("4 documents × 3 branches").wait_for()
    page.get_by_role("button", name="Run batch").click()
    page.get_by_text(re.compile(r"^Done: \d+ documents?")).wait_for()
    wait_idle(page)
    page.get_by_text("No scores to chart").wait_for()  # no judge without a key: no empty chart with a -1 axis
    assert "cost so far $0 " in page.content() or "cost so far $0<" in page.content()
    shot(page, "batch-translate")
    (results,) = (tmp_path / "home" / "batches").glob("*.results.csv")
    rows = list(csv.DictReader(results.open(encoding="utf-8")))
    assert len(rows) == 4 and all(r["text:offline:pseudo"].startswith("[!! ") for r in rows)
    assert {r["non_translation:offline:pseudo"] for r in rows} == {"pseudo-localisation"}
    demo = [c for c in rows[0] if c.startswith("text:sim:")]
    assert len(demo) == 2 and all(r[c].startswith("[simulated de]") for r in rows for c in demo)
    # Two translations and no judge (no key): agreement is symmetric, so there is no best, and never the
    # pseudo-localisation.
    assert {r["best"] for r in rows} == {""}


def test_a_provider_batch_is_sent_listed_and_collected_on_the_page(page, start_app, tmp_path, fake):
    fake.batches.polls = 0
    source = tmp_path / "docs.csv"
    source.write_text("id,text\nd1,We guarantee uptime.\nd2,Refunds within 30 days.\n", encoding="utf-8")
    server = start_app({"PARALLAX_HOME": str(tmp_path / "home"), "OPENAI_API_KEY": "fake-key-page-batch-0123456789ab",
                        "OPENAI_BASE_URL": fake.openai_url})
    upload(page, server, source)
    page.get_by_text("2 documents ×").wait_for()
    page.get_by_role("button", name="Run batch").wait_for()
    page.get_by_text("Provider batch APIs").click()
    wait_idle(page)
    if page.get_by_text("has no batch API").count():  # the default selection holds an offline engine: pick OpenAI
        assert page.get_by_role("button", name="Send provider batch").is_disabled()
        page.get_by_role("button", name="Clear all").first.click()
        wait_idle(page)
        page.get_by_text("Use another engine id").first.click()
        page.get_by_role("textbox", name="Engine id").first.fill("openai:gpt-4o-mini")
        page.keyboard.press("Enter")
        wait_idle(page)
    page.get_by_role("button", name="Send provider batch").click()
    page.get_by_text("Sent provider batch").wait_for()
    shot(page, "batch-provider-sent")
    assert [r["path"] for r in fake.requests] == ["/v1/files", "/v1/batches"]  # no direct call
    page.reload()
    wait_idle(page)
    page.get_by_text("Provider batches waiting (1)").wait_for()  # listed after a refresh: kept in the history
    page.get_by_role("button", name="Check and collect").click()
    page.get_by_text("collected 2 of 2 documents").wait_for()
    page.get_by_text("Every provider batch has been collected").wait_for()
    wait_idle(page)
    expect(page.get_by_role("button", name="Download")).to_have_count(1)  # retried: a redraw may be under way
    shot(page, "batch-provider-collected")
    (results,) = (tmp_path / "home" / "batches").glob("*.results.csv")
    rows = list(csv.DictReader(results.open()))
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert not [r for r in fake.requests if r["path"].endswith("/chat/completions")]


def test_an_uploaded_batch_cannot_read_a_file_on_the_server(page, start_app, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:secret-line-on-the-server\n", encoding="utf-8")
    source = tmp_path / "docs.csv"
    source.write_text(f"id,text,path\nleak,,{secret}\nup,,../../../../../../{secret}\nfine,A short text.,\n",
                      encoding="utf-8")
    server = start_app({"PARALLAX_HOME": str(tmp_path / "home")})
    upload(page, server, source)
    page.get_by_text("3 documents × 3 branches").wait_for()
    page.get_by_role("button", name="Run batch").click()
    page.get_by_text(re.compile(r"^Done: \d+ documents?")).wait_for()
    wait_idle(page)
    (results,) = (tmp_path / "home" / "batches").glob("*.results.csv")
    rows = {r["id"]: r for r in csv.DictReader(results.open())}
    assert {k: r["status"] for k, r in rows.items()} == {"leak": "invalid", "up": "invalid", "fine": "ok"}
    assert "names a document file, which only `parallax batch` reads" in rows["leak"]["error"]
    kept = "".join(p.read_text() for p in (tmp_path / "home" / "batches").iterdir())  # results, branches
    assert "secret-line" not in kept + page.content()
