"""Two runs compared: the default pair, branches matched by perspective × engine or by engine, and the tables History
shows from them (a failed branch reads its status, a row one run lacks says so)."""

from __future__ import annotations

from parallax.compare import default_pair, match_runs, unscored_reason
from parallax.reducers import reduce
from parallax.results import BranchResult
from parallax.storage import RunRecord


def branch(order: int, perspective: str, engine: str, score: float | None = 7.0, status: str = "ok",
           **more: object) -> BranchResult:
    return BranchResult(f"{perspective}@{engine}", order, engine, perspective, status=status,  # type: ignore[arg-type]
                        score=score if status == "ok" else None, **more)  # type: ignore[arg-type]


def record(run_id: str, mode: str, results: list[BranchResult]) -> RunRecord:
    return RunRecord(run_id, "2025-01-01T00:00:00+00:00", mode, "completed", "text", {}, reduce(results, "mean"),
                     None, [], {r.branch_id: r for r in results}, {}, {})


# Run A reviews technical and legal with a and b; run B reviews legal and business with a and c, and c fails.
A = [branch(0, "technical", "sim:a", 6.0, latency_ms=1000), branch(1, "technical", "sim:b", 4.0),
     branch(2, "legal", "sim:a", 8.0, latency_ms=3000), branch(3, "legal", "sim:b", 5.0)]
B = [branch(0, "legal", "sim:a", 9.0, latency_ms=2000), branch(1, "legal", "sim:c", status="error",
                                                               error="HTTP 500"),
     branch(2, "business", "sim:a", 5.0, latency_ms=2000), branch(3, "business", "sim:c", status="cancelled")]


def test_matched_by_perspective_and_engine_a_branch_one_run_lacks_is_only_in_that_run():
    rows = {(m.perspective, m.engine): m for m in match_runs(A, B, "branch")}
    # What both runs have first, then what only A has, then only B, each in its run's order.
    assert list(rows) == [("legal", "sim:a"), ("technical", "sim:a"), ("technical", "sim:b"), ("legal", "sim:b"),
                          ("legal", "sim:c"), ("business", "sim:a"), ("business", "sim:c")]
    assert rows["legal", "sim:a"].presence == "A and B"
    assert [r.score for r in rows["legal", "sim:a"].a] == [8.0] and [r.score for r in rows["legal", "sim:a"].b] == [9.0]
    assert rows["technical", "sim:b"].presence == "only in A" and rows["technical", "sim:b"].b == ()
    assert rows["legal", "sim:c"].presence == "only in B"


def test_matched_by_engine_the_same_engine_lines_up_across_runs_whose_perspectives_differ():
    rows = {m.engine: m for m in match_runs(A, B, "engine")}
    assert list(rows) == ["sim:a", "sim:b", "sim:c"]
    assert all(m.perspective is None for m in rows.values())
    assert [r.perspective for r in rows["sim:a"].a] == ["technical", "legal"]
    assert [r.perspective for r in rows["sim:a"].b] == ["legal", "business"]
    assert (rows["sim:a"].presence, rows["sim:b"].presence, rows["sim:c"].presence) == (
        "A and B", "only in A", "only in B")


def test_a_result_without_a_score_reads_its_status_never_none():
    assert unscored_reason([branch(0, "p", "e", status="error")]) == "error"
    assert unscored_reason([branch(0, "p", "e", status="cancelled")]) == "cancelled"
    assert unscored_reason([branch(0, "p", "e", status="error"), branch(1, "q", "e", status="timeout"),
                            branch(2, "r", "e", status="error")]) == "error, timeout"
    assert unscored_reason([branch(0, "p", "e", score=None)]) == "no score"
    assert unscored_reason([branch(0, "translation", "e", score=None)], "translate") == "not judged"
    assert unscored_reason([]) == "—"
    assert unscored_reason([branch(0, "p", "e", status="error"), branch(1, "q", "e", 3.0)]) is None


def test_the_default_pair_is_the_newest_run_and_the_newest_earlier_one_of_its_mode():
    runs = [{"run_id": "r3", "mode": "review"}, {"run_id": "t2", "mode": "translate"},
            {"run_id": "r1", "mode": "review"}]
    assert default_pair(runs) == ("r1", "r3")
    assert default_pair([{"run_id": "t2", "mode": "translate"}, *runs[:1], *runs[2:]]) == ("r3", "t2")
    assert default_pair([{"run_id": "t2", "mode": "translate"}, {"run_id": "r1", "mode": "review"}]) == ("r1", "t2")


def test_the_branch_table_shows_scores_statuses_and_where_a_row_is_missing():
    from components.compare import branch_table

    names = {"sim:a": "a", "sim:b": "b", "sim:c": "c"}
    table = branch_table(record("A", "review", A), record("B", "review", B), names)
    assert list(table.columns) == ["perspective", "engine", "in", "A score (0–10)", "B score (0–10)", "change"]
    rows = {(p, e): row for p, e, row in zip(table["perspective"], table["engine"], table.to_dict("records"),
                                             strict=True)}
    assert rows["aggregate", ""]["A score (0–10)"] == "5.75" and rows["aggregate", ""]["B score (0–10)"] == "7.00"
    assert rows["legal", "a"]["change"] == 1.0
    assert (rows["legal", "c"]["in"], rows["legal", "c"]["A score (0–10)"], rows["legal", "c"]["B score (0–10)"]) == (
        "only in B", "—", "error")
    assert rows["business", "c"]["B score (0–10)"] == "cancelled"
    assert rows["technical", "b"]["in"] == "only in A"
    assert not any(str(v) in ("None", "nan") for v in table.drop(columns="change").to_numpy().ravel())


def test_the_engine_table_summarises_each_engine_in_both_runs():
    from components.compare import engine_table

    names = {"sim:a": "a", "sim:b": "b", "sim:c": "c"}
    table = engine_table(record("A", "review", A), record("B", "review", B), names)
    assert list(table.columns) == ["engine", "in", "A mean score (0–10)", "B mean score (0–10)", "change",
                                   "A succeeded", "B succeeded", "A latency (s)", "B latency (s)", "A cost", "B cost"]
    rows = {row["engine"]: row for row in table.to_dict("records")}
    a = rows["a"]
    assert (a["in"], a["A mean score (0–10)"], a["B mean score (0–10)"], a["change"]) == ("A and B", "7.00", "7.00", 0)
    assert (a["A succeeded"], a["B succeeded"], a["A latency (s)"], a["B latency (s)"]) == ("2 of 2", "2 of 2", 2, 2)
    c = rows["c"]
    assert (c["in"], c["A mean score (0–10)"], c["B mean score (0–10)"], c["B succeeded"]) == (
        "only in B", "—", "error, cancelled", "0 of 2")
    assert rows["b"]["in"] == "only in A" and rows["aggregate"]["B succeeded"] == "2 of 4"


def test_runs_of_different_modes_show_each_scale_and_no_change():
    from components.compare import branch_table, engine_table

    review = record("A", "review", [branch(0, "legal", "sim:a", 7.0)])
    translation = record("B", "translate", [branch(0, "translation", "sim:a", 80.0, judge_score=80.0)])
    names = {"sim:a": "a"}
    table = engine_table(review, translation, names)
    assert list(table.columns)[2:4] == ["A mean score (0–10)", "B mean judge score (0–100)"]
    assert table["change"].isna().all()
    assert list(branch_table(review, translation, names).columns)[3:5] == ["A score (0–10)",
                                                                         "B judge score (0–100)"]
