from __future__ import annotations

import csv
import io
import json

from parallax.export import CSV_COLUMNS, safe_cell, to_csv, to_json
from parallax.reducers import reduce
from parallax.results import BranchResult, BranchSpec
from parallax.run import RunOutcome


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
