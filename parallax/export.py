"""CSV and JSON writers for a run. CSV cells are formula-safe; JSON stays raw."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .run import RunOutcome

BRANCH_FIELDS = (
    "branch_id",
    "engine",
    "perspective",
    "status",
    "score",
    "text",
    "error",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "retries",
)
AGGREGATE_FIELDS = ("method", "score", "n_ok", "n_total", "spread")
CSV_COLUMNS = ("run_id", "mode", *BRANCH_FIELDS, *(f"aggregate_{f}" for f in AGGREGATE_FIELDS))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text (OWASP CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_dict(outcome: RunOutcome) -> dict[str, Any]:
    aggregate = outcome.aggregate.to_dict() if outcome.aggregate else None
    branches = []
    for r in outcome.ordered():
        data = r.to_dict()
        branches.append(
            {**{k: data[k] for k in BRANCH_FIELDS}, **{k: v for k, v in data.items() if k not in BRANCH_FIELDS}}
        )
    return {
        "run_id": outcome.run_id,
        "mode": outcome.mode,
        "wall_ms": outcome.wall_ms,
        "arrival": outcome.arrival,
        "branches": branches,
        "aggregate": aggregate,
    }


def to_json(outcome: RunOutcome) -> str:
    return json.dumps(to_dict(outcome), ensure_ascii=False, indent=2)


def to_csv(outcome: RunOutcome) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    aggregate = outcome.aggregate.to_dict() if outcome.aggregate else {}
    for r in outcome.ordered():
        data = r.to_dict()
        row = [outcome.run_id, outcome.mode, *(data[k] for k in BRANCH_FIELDS)]
        row += [aggregate.get(k) for k in AGGREGATE_FIELDS]
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return buffer.getvalue()
