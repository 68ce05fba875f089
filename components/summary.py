"""One row per engine: how it did over its branches (mean score on its named scale, succeeded k of N, failures,
latency, tokens per second, cost) — a table the user sorts by clicking a header. An unknown cost reads
"unknown", never $0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from parallax.estimate import usd
from parallax.results import BranchResult

from .names import display_names

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

MISSING = "—"


def score_column(mode: str) -> str:
    return "mean judge score (0–100)" if mode == "translate" else "mean score (0–10)"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def engine_rows(results: Sequence[BranchResult], mode: str = "review",
                names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The per-engine summary, engines in their declared order. Latency and tokens/s count the branches that
    came back from a real call (a cached answer took no time); the cost is unknown when any branch that made a
    call has no price."""
    shown = display_names(r.engine for r in results)
    rows = []
    for engine in dict.fromkeys(r.engine for r in results):
        mine = [r for r in results if r.engine == engine]
        ok = [r for r in mine if r.status == "ok"]
        called = [r for r in ok if not r.cached and r.latency_ms is not None]
        scores = [r.judge_score if mode == "translate" else r.score for r in ok]
        tokens = sum(r.output_tokens or 0 for r in called if r.output_tokens)
        streaming_s = sum(max(0.0, (r.latency_ms or 0) - (r.ttft_ms or 0)) / 1000 for r in called if r.output_tokens)
        costs = [r.cost_usd for r in mine if r.cost_usd is not None or (r.latency_ms is not None and not r.cached)]
        row: dict[str, Any] = {
            "engine": (names or {}).get(engine) or shown[engine],
            score_column(mode): _mean([s for s in scores if s is not None]),
            "succeeded": f"{len(ok)} of {len(mine)}",
            "failures": len(mine) - len(ok),
            "mean latency (s)": _mean([(r.latency_ms or 0) / 1000 for r in called]),
            "tokens/s": tokens / streaming_s if tokens and streaming_s > 0 else None,
            "cost": None if None in costs else sum(c for c in costs if c is not None),
        }
        if mode == "translate":
            row["agreement (chrF 0–100)"] = _mean([r.agreement for r in ok if r.agreement is not None])
        row["engine id"] = engine
        rows.append(row)
    return rows


def styled(rows: list[dict[str, Any]]) -> Styler:
    """The rows as a table: numbers rounded (sorting still goes by the numbers underneath), a missing one "—", a
    cost as text ("unknown" when no price is known, never $0)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame["cost"] = [usd(None if c is None or c != c else c) for c in frame["cost"]]  # text: "unknown" is no number
    numbers = [c for c in frame.columns if c not in ("engine", "succeeded", "failures", "cost", "engine id")]
    for column in numbers:
        frame[column] = frame[column].astype("float64")
    # Missing numbers: "—" here and, in the browser, st.dataframe's placeholder (the page passes the same).
    return frame.style.format(precision=2, na_rep=MISSING, subset=numbers)
