"""CSV, JSON and XLSX writers for a run. CSV and XLSX cells are formula-safe; JSON stays raw."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from parallax.results import BranchResult, Finding
from parallax.run.execute import RunOutcome
from parallax.votes import Vote

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
TRANSLATION_FIELDS = ("judge_score", "judge_spread", "judge_error", "non_translation", "unverified", "agreement",
                      "outlier",
                      "answered_by", "fallbacks", "glossary", "chrf_reference", "bleu_reference")
AGGREGATE_FIELDS = ("method", "score", "n_ok", "n_scored", "n_total", "spread", "best", "margin", "basis",
                    "confident", "n_units", "p_value", "lead_low", "lead_high", "verdict")
# A spreadsheet row per branch: never the raw JSON judgement in a cell (the JSON export keeps the raw reply).
CSV_BRANCH = tuple(f for f in BRANCH_FIELDS if f != "text") + ("score_scale", "cached")
REVIEW_FIELDS = ("summary", "issues_count", "issues", "strengths")
# The run's whole cost on every row (its judge included): exact, or what is known of it and how many calls are not.
COST_FIELDS = ("run_cost_usd", "run_cost_at_least_usd", "run_unpriced_calls")
JUDGE_COST_FIELDS = ("judge_cost_usd", "judge_cost_at_least_usd", "judge_unpriced_calls")  # translations
CSV_COLUMNS = ("run_id", "mode", *CSV_BRANCH, *REVIEW_FIELDS, *ESTIMATE_FIELDS,
               *(f"aggregate_{f}" for f in AGGREGATE_FIELDS), *COST_FIELDS)


def csv_columns(mode: str) -> tuple[str, ...]:
    """The review columns (the judgement read into summary, issues, strengths); a translation run has the
    translation itself and its quality columns instead, and the judge's cost for the whole run."""
    if mode != "translate":
        return CSV_COLUMNS
    return ("run_id", "mode", *CSV_BRANCH, "text", *ESTIMATE_FIELDS, *TRANSLATION_FIELDS, "issues_count", "issues",
            *(f"aggregate_{f}" for f in AGGREGATE_FIELDS), *COST_FIELDS, *JUDGE_COST_FIELDS)


def issues_text(r: BranchResult) -> str:
    """The issues as one readable cell: "[major] note — “quote”; …" (with the category for translations)."""
    parts = []
    for f in r.issues:
        kind = f"{f.severity}, {f.category}" if f.category else f.severity
        parts.append(f"[{kind}] {f.note}".rstrip() + (f" — “{f.quote}”" if f.quote else "")
                     + (f" (page {f.page})" if f.page else ""))
    return "; ".join(parts)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# A formula can also begin inside a CSV cell, after a separator: Excel in a locale whose list separator is ";" (or
# a reader told to split on "," or tab) cuts the line there whatever the quotes say, and a reader that lost track
# of the quotes ends the row at a newline inside a cell. So in CSV a formula character that follows , ; tab CR or
# LF — with only spaces or double quotes between — gets the same ' as one at the start of the cell:
# `x;=cmd|' /C calc'!A0` is written `x;'=cmd|' /C calc'!A0`. (Text becomes slightly different in CSV; the JSON
# export keeps it exact. An XLSX cell is never split, so it needs the guard at its start only.)
_FORMULA_AFTER_SEPARATOR = re.compile(r"([,;\t\r\n][ \"]*)(?=[=+\-@])")
# What an XLSX (XML 1.0) cell cannot hold: control characters but tab, LF and CR, lone surrogates, U+FFFE/U+FFFF.
# openpyxl raised IllegalCharacterError on them (a model's reply with an escape code stopped the export).
_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _guard_start(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def safe_cell(value: Any) -> Any:
    """A CSV cell with no spreadsheet formula in it (OWASP CSV injection): text that starts with a formula
    character, or has one after a separator, gets a ' before it; numbers stay numbers."""
    if isinstance(value, str):
        return _guard_start(_FORMULA_AFTER_SEPARATOR.sub(r"\1'", value))
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):  # glossary, fallbacks: JSON inside the cell
        value = json.dumps(value, ensure_ascii=False)
    return safe_cell(value)


def to_dict(outcome: RunOutcome, include_text: bool = True, votes: Sequence[Vote] = ()) -> dict[str, Any]:
    """Everything to reproduce and audit the run: input (or its hash and length with include_text=False),
    timestamp, settings, the Parallax version, every branch with what it was sent and its raw reply, the
    aggregate, for translations the judge's samples (prompt, raw reply, findings) and cost, and the human votes
    cast on it (an empty list when none were given)."""
    from parallax import __version__

    aggregate = outcome.aggregate.to_dict() if outcome.aggregate else None
    branches = []
    for r in outcome.ordered():
        data = r.to_dict()
        found = r.estimate
        data["estimate"] = found.to_dict() if found else None
        branches.append(
            {**{k: data[k] for k in BRANCH_FIELDS}, **{k: v for k, v in data.items() if k not in BRANCH_FIELDS}}
        )
    text = outcome.document
    out: dict[str, Any] = {
        "run_id": outcome.run_id,
        "mode": outcome.mode,
        "parallax_version": __version__,
        "created_at": outcome.created_at,
        "input": {"text": text, "characters": len(text)} if include_text else
                 {"sha256": hashlib.sha256(text.encode()).hexdigest(), "characters": len(text)},
        "settings": outcome.settings,
        "wall_ms": outcome.wall_ms,
        "arrival": outcome.arrival,
        "branches": branches,
        "aggregate": aggregate,
        "cost": outcome.cost().to_dict(),  # the judge included; cost.judge: the judge's own
    }
    if not include_text:  # the prompts carry the document too: each copy is replaced by its hash and length
        out = _without_input(out, text, f"⟨the input text: {len(text)} characters, sha256 "
                                        f"{hashlib.sha256(text.encode()).hexdigest()[:12]}…⟩")
    if outcome.mode == "translate":
        out["agreement_matrix"] = outcome.assessment.matrix if outcome.assessment else {}
        out["best"] = outcome.aggregate.best if outcome.aggregate else None
        out["best_confident"] = outcome.aggregate.confident if outcome.aggregate else None
        judge = outcome.cost().judge
        out["judge_cost_usd"] = judge.usd if judge else None
        out["position_effect"] = outcome.assessment.position_effect if outcome.assessment else {}
        out["judge_samples"] = [s.to_dict() for s in outcome.assessment.judge_samples] if outcome.assessment else []
        out["segments"] = segment_rows(outcome)
    out["demo"] = outcome.demo
    out["votes"] = vote_rows(outcome, votes)
    return out


VOTE_COLUMNS = ("vote_id", "created_at", "voter", "segment", "left", "left_engine", "right", "right_engine",
                "outcome", "winner", "winner_engine")


def vote_rows(outcome: RunOutcome, votes: Sequence[Vote]) -> list[dict[str, Any]]:
    """One row per vote, engines revealed: left and right are the two branches (shown to the voter as A and B in
    a random order), outcome is left / right / tie / both bad, segment the source segment numbered from 1 as in
    the segments list (empty: a vote on the whole outputs)."""
    engines = {b: r.engine for b, r in outcome.results.items()}
    return [{"vote_id": v.vote_id, "created_at": v.created_at, "voter": v.voter,
             "segment": None if v.segment is None else v.segment + 1, "left": v.left,
             "left_engine": engines.get(v.left), "right": v.right, "right_engine": engines.get(v.right),
             "outcome": v.outcome, "winner": v.winner, "winner_engine": engines.get(v.winner or "")}
            for v in votes]


def votes_csv(outcome: RunOutcome, votes: Sequence[Vote]) -> str:
    """The votes as a CSV of their own (NAME.votes.csv beside --csv; formula-safe, as every CSV)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(VOTE_COLUMNS)
    for row in vote_rows(outcome, votes):
        writer.writerow([_cell(row.get(c)) for c in VOTE_COLUMNS])
    return buffer.getvalue()


def _estimate_columns(r: BranchResult) -> dict[str, Any]:
    found = r.estimate
    if found is None:
        return {}
    return {"samples_n": found.n, "score_sd": found.sd, "score_ci_low": found.low, "score_ci_high": found.high}


def _without_input(value: Any, text: str, placeholder: str) -> Any:
    if not text:
        return value
    if isinstance(value, str):
        return value.replace(text, placeholder)
    if isinstance(value, dict):
        return {k: _without_input(v, text, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_input(v, text, placeholder) for v in value]
    return value


def to_json(outcome: RunOutcome, include_text: bool = True, votes: Sequence[Vote] = ()) -> str:
    return json.dumps(to_dict(outcome, include_text, votes), ensure_ascii=False, indent=2)


def to_csv(outcome: RunOutcome) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = csv_columns(outcome.mode)
    writer.writerow(columns)
    for data in branch_rows(outcome):
        writer.writerow([_cell(data.get(c)) for c in columns])
    return buffer.getvalue()


def branch_rows(outcome: RunOutcome) -> list[dict[str, Any]]:
    """One flat row per branch with every CSV column (the CSV and the XLSX branches sheet)."""
    aggregate = {f"aggregate_{k}": v for k, v in (outcome.aggregate.to_dict() if outcome.aggregate else {}).items()}
    costs = outcome.cost().columns("run_")
    rows = []
    for r in outcome.ordered():
        readable = {"issues_count": len(r.issues), "issues": issues_text(r), "strengths": "; ".join(r.strengths)}
        rows.append({"run_id": outcome.run_id, "mode": outcome.mode, **r.to_dict(), **readable,
                     "score_scale": SCORE_SCALE[outcome.mode], **_estimate_columns(r), **aggregate,
                     **costs})
    return rows


# What a score is on: a review's 0-10, or a translation judge's GEMBA-MQM 0-100.
SCORE_SCALE = {"review": "0-10", "translate": "0-100"}


def segment_rows(outcome: RunOutcome) -> list[dict[str, Any]]:
    """One row per source segment: its text, then each translation's text on it and the judge's score (0-100)."""
    units = outcome.assessment.units if outcome.assessment else []
    rows = []
    for n, source in enumerate(units):
        row: dict[str, Any] = {"segment": n + 1, "source": source}
        for r in outcome.ordered():
            if r.segments:
                row[f"text:{r.branch_id}"] = r.segments[n]
                row[f"score:{r.branch_id}"] = r.segment_scores[n] if r.segment_scores else None
        rows.append(row)
    return rows


def segments_csv(outcome: RunOutcome) -> str:
    """The segments as a CSV of their own (formula-safe, as every CSV)."""
    rows = segment_rows(outcome)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def to_xlsx(outcome: RunOutcome, votes: Sequence[Vote] = ()) -> bytes:
    """A workbook with one sheet per view: branches (the CSV's columns), aggregate (with the verdict and the
    run's metadata), issues (one row per finding), a translation's segments, and votes when there are any. Text
    cells are formula-safe, as in the CSV."""
    import pandas as pd

    def sheet(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
        """Every cell through _xlsx_cell: engine ids, perspectives and run ids are text from outside too."""
        return pd.DataFrame([{k: _xlsx_cell(v) for k, v in row.items()} for row in rows], columns=columns)

    columns = list(csv_columns(outcome.mode))
    branches = sheet([{c: row.get(c) for c in columns} for row in branch_rows(outcome)], columns)
    summary = outcome.aggregate.to_dict() if outcome.aggregate else {}
    aggregate = sheet([{"run_id": outcome.run_id, "mode": outcome.mode, "created_at": outcome.created_at,
                        **summary, "cost": outcome.cost().total.text(), "judge_cost": outcome.cost().judge_text(),
                        **outcome.cost().columns("run_")}])
    issues = sheet([{"branch_id": r.branch_id, "engine": r.engine, "perspective": r.perspective, **f.to_dict()}
                    for r in outcome.ordered() for f in r.issues],
                   ["branch_id", "engine", "perspective", *(f.name for f in fields(Finding))])
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        branches.to_excel(writer, sheet_name="branches", index=False)
        aggregate.to_excel(writer, sheet_name="aggregate", index=False)
        issues.to_excel(writer, sheet_name="issues", index=False)
        if outcome.mode == "translate":
            sheet(segment_rows(outcome)).to_excel(writer, sheet_name="segments", index=False)
        if votes:
            sheet(vote_rows(outcome, votes), list(VOTE_COLUMNS)).to_excel(writer, sheet_name="votes", index=False)
    return buffer.getvalue()


def _xlsx_cell(value: Any) -> Any:
    """A workbook cell: what XML cannot hold removed first (so that removing it cannot uncover a formula), then
    the guard at the start; no guard after separators (a workbook cell is never split)."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        value = _guard_start(_NOT_IN_XML.sub("", value))
    return None if value == "" else value
