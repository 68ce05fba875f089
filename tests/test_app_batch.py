"""The Batch page through AppTest: its results read like results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PARALLAX_CONFIG", "PARALLAX_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def shown(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The cells as the page shows them (the table's display values: rounded, "—" for a missing number)."""
    from streamlit import dataframe_util

    values = dataframe_util.convert_arrow_bytes_to_pandas_df(table.proto.arrow_data.styler.display_values)
    return [[str(v) for v in row] for row in values.itertuples(index=False)]


def test_one_results_table_with_friendly_headers_and_no_none(tmp_path):
    data = (b"id,text\nd1,We guarantee 100% uptime and we waive any claim for data loss forever.\nd2,\n"
            b"d3,Questions? Write to jane.doe@example.com today.\n")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/batch.py").run()
    at.file_uploader(key="batch_upload").set_value(("docs.csv", data, "text/csv")).run()
    assert "3 documents × 3 branches" in shown_text(at.main)
    at.button(key="batch_run").click().run()
    assert not at.exception
    page = shown_text(at.main)
    assert "Done: 3 documents" in page and str(tmp_path) not in page  # a download, not a server path
    assert at.get("download_button")[0].label == "Download results CSV"
    tables = [d for d in at.dataframe if "document" in d.value.columns]
    assert len(tables) == 1  # the live table of the latest documents gave way to this one
    assert tables[0].proto.placeholder == "—"  # what the browser shows for a missing number (not "None")
    table = tables[0].value
    assert list(table.columns)[:8] == ["document", "text", "status", "score (0–10)", "succeeded", "spread", "cost",
                                       "error"]
    assert list(table.columns)[8:] == [f"{p} · Keyword checks (offline) (0–10)"
                                       for p in ("technical", "business", "legal")]
    assert "n_ok" not in table.columns and "aggregate_method" not in table.columns
    assert list(table["succeeded"]) == ["3 of 3", "—", "3 of 3"] and list(table["cost"]) == ["$0", "—", "$0"]
    assert table["error"][1] == "row 2: the 'text' cell is empty"  # whole, not cut
    assert table["text"][0].startswith("We guarantee 100% uptime")
    cells = shown(tables[0])
    assert not any(c in ("None", "nan", "NaN", "<NA>") for row in cells for c in row)
    assert cells[1][3] == "—" and re.fullmatch(r"\d+\.\d\d", cells[0][3])  # missing: "—"; scores rounded
