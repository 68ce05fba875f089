"""CSV and JSON writers for a run. CSV cells are formula-safe; JSON stays raw."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .results import BranchResult
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
    "queued_ms",
    "structured_mode",
)
# The score's uncertainty over its samples (judge samples, or review samples): the same columns in both modes.
ESTIMATE_FIELDS = ("samples_n", "score_sd", "score_ci_low", "score_ci_high", "confidence")
TRANSLATION_FIELDS = ("judge_score", "judge_spread", "judge_error", "non_translation", "agreement", "outlier",
                      "answered_by", "fallbacks", "glossary", "chrf_reference", "bleu_reference")
AGGREGATE_FIELDS = ("method", "score", "n_ok", "n_scored", "n_total", "spread", "best", "margin", "confident",
                    "lead_low", "lead_high")
CSV_COLUMNS = ("run_id", "mode", *BRANCH_FIELDS, *ESTIMATE_FIELDS, *(f"aggregate_{f}" for f in AGGREGATE_FIELDS))


def csv_columns(mode: str) -> tuple[str, ...]:
    """The review columns; a translation run adds its quality columns before the aggregate's."""
    if mode != "translate":
        return CSV_COLUMNS
    return ("run_id", "mode", *BRANCH_FIELDS, *ESTIMATE_FIELDS, *TRANSLATION_FIELDS,
            *(f"aggregate_{f}" for f in AGGREGATE_FIELDS))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text (OWASP CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):  # glossary, fallbacks: JSON inside the cell
        value = json.dumps(value, ensure_ascii=False)
    return safe_cell(value)


def to_dict(outcome: RunOutcome) -> dict[str, Any]:
    aggregate = outcome.aggregate.to_dict() if outcome.aggregate else None
    branches = []
    for r in outcome.ordered():
        data = r.to_dict()
        found = r.estimate
        data["estimate"] = found.to_dict() if found else None
        branches.append(
            {**{k: data[k] for k in BRANCH_FIELDS}, **{k: v for k, v in data.items() if k not in BRANCH_FIELDS}}
        )
    out: dict[str, Any] = {
        "run_id": outcome.run_id,
        "mode": outcome.mode,
        "wall_ms": outcome.wall_ms,
        "arrival": outcome.arrival,
        "branches": branches,
        "aggregate": aggregate,
    }
    if outcome.mode == "translate":
        out["agreement_matrix"] = outcome.assessment.matrix if outcome.assessment else {}
        out["best"] = outcome.aggregate.best if outcome.aggregate else None
        out["best_confident"] = outcome.aggregate.confident if outcome.aggregate else None
        out["judge_cost_usd"] = outcome.assessment.judge_cost_usd if outcome.assessment else None
        out["position_effect"] = outcome.assessment.position_effect if outcome.assessment else {}
    return out


def _estimate_columns(r: BranchResult) -> dict[str, Any]:
    found = r.estimate
    if found is None:
        return {}
    return {"samples_n": found.n, "score_sd": found.sd, "score_ci_low": found.low, "score_ci_high": found.high}


def to_json(outcome: RunOutcome) -> str:
    return json.dumps(to_dict(outcome), ensure_ascii=False, indent=2)


def to_csv(outcome: RunOutcome) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = csv_columns(outcome.mode)
    writer.writerow(columns)
    aggregate = {f"aggregate_{k}": v for k, v in (outcome.aggregate.to_dict() if outcome.aggregate else {}).items()}
    for r in outcome.ordered():
        data = {"run_id": outcome.run_id, "mode": outcome.mode, **r.to_dict(), **_estimate_columns(r), **aggregate}
        writer.writerow([_cell(data.get(c)) for c in columns])
    return buffer.getvalue()
