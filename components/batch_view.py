"""A batch's results as one table that reads like results: friendly headers, the document's start beside its
scores, "k of N" succeeded, rounded scores on their named scale, "—" where there is nothing (never "None"), errors
whole. The results file (the download) keeps every column as written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from parallax.estimate import usd

from .names import display_names

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

MISSING = "—"
TEXT_START = 80  # characters of each document shown beside its scores


def scale(mode: str) -> str:
    return "0–100" if mode == "translate" else "0–10"


def branch_names(branch_ids: Iterable[str], labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """A branch by what it is: "technical · quick" (a review: perspective@engine), "quick" (a translation)."""
    ids = list(dict.fromkeys(branch_ids))
    engines = display_names((b.partition("@")[2] or b for b in ids), labels)
    return {b: (f"{b.partition('@')[0]} · {engines[b.partition('@')[2]]}" if "@" in b else engines[b]) for b in ids}


def text_start(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= TEXT_START else text[:TEXT_START].rstrip() + "…"


def _cell(value: Any) -> Any:
    """None for a missing cell (an empty CSV cell, NaN, None)."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    return value


def _count(ok: Any, total: Any) -> str:
    ok, total = _cell(ok), _cell(total)
    return MISSING if ok is None or total is None else f"{int(float(ok))} of {int(float(total))}"


def _cost(value: Any, status: Any) -> str:
    value = _cell(value)
    if status == "invalid":
        return MISSING  # never called: no cost at all
    return usd(None if value is None else float(value))


def results_frame(rows: list[dict[str, Any]], mode: str, texts: Mapping[str, str] | None = None,
                  labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per document, with friendly headers: document, its text's start, status, score (on its scale),
    succeeded, spread, cost, error, then each branch's score."""
    import pandas as pd

    branches = list(dict.fromkeys(c.removeprefix("score:") for row in rows for c in row if c.startswith("score:")))
    names = branch_names(branches, labels)
    out = []
    for row in rows:
        doc = str(row.get("id", ""))
        shown: dict[str, Any] = {"document": doc}
        if texts is not None:
            shown["text"] = texts.get(doc, "")
        number = _cell(row.get("aggregate_score"))
        shown.update({
            "status": row.get("status") or MISSING,
            f"score ({scale(mode)})": None if number is None else float(number),
            "succeeded": _count(row.get("n_ok"), row.get("n_total")),
            "spread": None if _cell(row.get("spread")) is None else float(row["spread"]),
            "cost": _cost(row.get("cost_usd"), row.get("status")),
            "error": _cell(row.get("error")) or "",
        })
        for branch in branches:
            value = _cell(row.get(f"score:{branch}"))
            shown[f"{names[branch]} ({scale(mode)})"] = None if value is None else float(value)
        out.append(shown)
    frame = pd.DataFrame(out)
    for column in frame.columns:  # numbers stay numbers (sortable) even when a column is all missing
        if column not in ("document", "text", "status", "succeeded", "cost", "error"):
            frame[column] = frame[column].astype("float64")
    return frame


def styled(frame: pd.DataFrame) -> Styler:
    """Scores rounded to two decimals and "—" where a value is missing (sorting still goes by the numbers)."""
    numbers = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    return frame.style.format(precision=2, na_rep=MISSING, subset=numbers)


def estimates_frame(estimates: Mapping[str, Any], mode: str, labels: Mapping[str, str] | None = None
                    ) -> pd.DataFrame:
    """Each branch over the documents: its mean score with its 95% interval, on its named scale."""
    import pandas as pd

    names = branch_names(estimates, labels)
    frame = pd.DataFrame([{"branch": names[name], f"mean score ({scale(mode)})": e.mean, "sd": e.sd,
                           "95% interval from": e.low, "95% interval to": e.high, "documents": e.n}
                          for name, e in estimates.items()])
    for column in frame.columns[1:-1]:
        frame[column] = frame[column].astype("float64")
    return frame
