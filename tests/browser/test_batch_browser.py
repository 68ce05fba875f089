"""The Batch page in a real browser: upload, run, progress, results, and a resume that redoes nothing."""

from __future__ import annotations

import csv

from tests.browser.conftest import shot, wait_idle


def test_upload_run_and_resume(page, start_app, tmp_path):
    source = tmp_path / "docs.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(30):
            writer.writerow([f"doc{i}", f"Release {i}: we guarantee uptime." if i != 7 else ""])
    server = start_app({"PARALLAX_HOME": str(tmp_path / "home")})
    page.goto(f"{server.url}/batch")
    wait_idle(page)
    page.locator("input[type=file]").set_input_files(str(source))
    page.get_by_text("30 documents × 3 branches").wait_for()
    page.get_by_role("button", name="Run batch").click()
    page.get_by_text("Done: results are in").wait_for()
    wait_idle(page)
    page.get_by_text("Results (30 documents)").wait_for()
    shot(page, "batch-final")
    results = list((tmp_path / "home" / "batches").glob("*.results.csv"))
    rows = list(csv.DictReader(results[0].open()))
    assert len(rows) == 30 and sum(r["status"] == "ok" for r in rows) == 29
    assert next(r for r in rows if r["id"] == "doc7")["error"] == "row 8: the 'text' cell is empty"
    page.reload()
    wait_idle(page)
    page.locator("input[type=file]").set_input_files(str(source))
    page.get_by_text("30 already done in an earlier run").wait_for()
