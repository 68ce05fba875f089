from __future__ import annotations

import csv
import io
import json

import pytest

from parallax.export import CSV_COLUMNS, safe_cell, to_csv, to_json
from parallax.reducers import reduce
from parallax.results import BranchResult, BranchSpec
from parallax.run.execute import RunOutcome


def outcome_with(text: str, error: str | None = None) -> RunOutcome:
    spec = BranchSpec("legal@sim:x", 0, "legal", "sim:x")
    result = BranchResult(
        spec.branch_id,
        0,
        spec.engine,
        spec.perspective,
        score=6.5,
        text=text,
        summary=text,
        error=error,
        latency_ms=12.5,
        retries=0,
    )
    outcome = RunOutcome("run1", "review", "mean", [spec], results={spec.branch_id: result})
    outcome.aggregate = reduce([result], "mean")
    return outcome


def test_formula_cells_are_neutralised():
    for dangerous in ('=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx"):
        assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("fine =1") == "fine =1"
    assert safe_cell(-3.5) == -3.5 and safe_cell(7) == 7


def test_csv_rows_are_safe_and_numbers_stay_numbers():
    text = '=cmd|" /C calc"!A0'
    rows = list(csv.reader(io.StringIO(to_csv(outcome_with(text, error="-bad")))))
    assert tuple(rows[0]) == CSV_COLUMNS
    row = dict(zip(rows[0], rows[1], strict=False))
    assert row["summary"] == "'" + text and row["error"] == "'-bad"
    assert row["score"] == "6.5" and row["latency_ms"] == "12.5" and row["aggregate_score"] == "6.5"
    assert row["ttft_ms"] == ""  # unknown stays empty, not 0


def test_json_stays_raw():
    data = json.loads(to_json(outcome_with("=1+1")))
    assert data["branches"][0]["text"] == "=1+1"
    assert data["aggregate"]["score"] == 6.5


# --- spreadsheets from untrusted output (issue 27) ---

def hostile_outcome(text: str, engine: str = "=1+1", perspective: str = "legal") -> RunOutcome:
    """A branch whose engine id (a named engine may be called anything), reply and finding are all hostile."""
    from parallax.results import Finding

    spec = BranchSpec(f"{perspective}@{engine}", 0, perspective, engine)
    result = BranchResult(spec.branch_id, 0, engine, perspective, score=6.5, text=text, summary=text, error=text,
                          issues=[Finding("major", text, text, category="+cat")], strengths=[text])
    outcome = RunOutcome("@run", "review", "mean", [spec], results={spec.branch_id: result})
    outcome.aggregate = reduce([result], "mean")
    return outcome


def workbook(outcome: RunOutcome):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    from parallax.export import to_xlsx

    return load_workbook(io.BytesIO(to_xlsx(outcome)))


def test_xlsx_keeps_replies_with_characters_a_workbook_cannot_store():
    text = "ok\x00\x01\x08\x0b\x0c\x1b[31m red\x7f \ud800\ufffe\uffff end\t\n\r"  # was: IllegalCharacterError
    sheets = workbook(hostile_outcome(text, engine="box"))
    summary = [c.value for c in sheets["branches"][2]][list(CSV_COLUMNS).index("summary")]
    assert summary == "ok[31m red\x7f  end\t\n\r"  # only what XML cannot hold is gone
    assert [c.value for c in sheets["issues"][2]][3:6] == ["major", summary, summary]


def test_a_character_stripped_from_a_cell_cannot_uncover_a_formula():
    sheets = workbook(hostile_outcome("\x01=HYPERLINK(\"http://evil\")", engine="box"))
    summary = [c.value for c in sheets["branches"][2]][list(CSV_COLUMNS).index("summary")]
    assert summary == "'=HYPERLINK(\"http://evil\")"


def test_every_text_cell_of_every_sheet_is_formula_safe():
    sheets = workbook(hostile_outcome("-2+3"))
    for sheet in sheets.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} = {cell.value!r} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), (sheet.title, cell.coordinate)
    issues = sheets["issues"]
    assert [c.value for c in issues[2]][:3] == ["legal@=1+1", "'=1+1", "legal"]
    assert sheets["aggregate"]["A2"].value == "'@run"


@pytest.mark.parametrize(("text", "written"), [
    ("x;=cmd|' /C calc'!A0", "x;'=cmd|' /C calc'!A0"),
    ("x,=1+1", "x,'=1+1"),
    ("a; +1+cmd|' /C calc'!A0", "a; '+1+cmd|' /C calc'!A0"),
    ("a;\t-2+3", "a;\t'-2+3"),
    ('a;"=1+1"', "a;\"'=1+1\""),
    ("a\t@SUM(A1)", "a\t'@SUM(A1)"),
    ("first line\n=1+1", "first line\n'=1+1"),
    ("first line\r\n-2+3", "first line\r\n'-2+3"),
    ("=1+1;=2", "'=1+1;'=2"),
    ("fine; no formula, here = there - 1", "fine; no formula, here = there - 1"),
])
def test_a_formula_after_a_separator_in_a_csv_cell_is_neutralised(text, written):
    rows = list(csv.reader(io.StringIO(to_csv(outcome_with(text)), newline="")))
    row = dict(zip(rows[0], rows[1], strict=False))
    assert row["summary"] == written


def test_a_batch_results_file_neutralises_a_formula_after_a_separator(tmp_path):
    from tests.test_batch import batch, results, write_csv

    source = write_csv(tmp_path / "in.csv", [["x;=cmd|' /C calc'!A0", "A text."]])
    code, _, _ = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                        "-e", "sim:a?latency=0&tokens=3&rate=1000"])
    assert code == 0
    assert [r["id"] for r in results(tmp_path / "out.csv")] == ["x;'=cmd|' /C calc'!A0"]
