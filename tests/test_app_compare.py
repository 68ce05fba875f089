"""History's "Compare two runs" tab through AppTest, on runs stored in a temporary history."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from parallax.reducers import reduce
from parallax.results import BranchResult, BranchSpec
from parallax.storage import Store
from tests.conftest import shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")


pytestmark = pytest.mark.usefixtures("page_without_keys")


def stored(store: Store, run_id: str, mode: str, results: list[BranchResult]) -> None:
    store.start_run(run_id, mode, f"the text of {run_id}", {"reducer": "mean"},
                    [BranchSpec(r.branch_id, r.order, r.perspective, r.engine) for r in results])
    store.save_branches(run_id, results)
    store.finish_run(run_id, reduce(results, "mean"), 1000.0, results)
    time.sleep(0.01)  # the next run starts later: the history lists the newest first


def branch(order: int, perspective: str, engine: str, score: float | None, **more: object) -> BranchResult:
    return BranchResult(f"{perspective}@{engine}", order, engine, perspective, score=score, **more)  # type: ignore[arg-type]


@pytest.fixture
def history(history_db) -> AppTest:
    """An old review (technical, engines a and b), a translation, then a new review (legal: a scores, b fails)."""
    store = Store(history_db)
    stored(store, "r-old", "review", [branch(0, "technical", "sim:a", 6.0, summary="Old run, engine a: terse."),
                                      branch(1, "technical", "sim:b", 4.0, summary="Old run, engine b: vague.")])
    stored(store, "t-mid", "translate", [branch(0, "translation", "sim:a", 80.0, judge_score=80.0,
                                                text="Bonjour le monde")])
    stored(store, "r-new", "review", [
        branch(0, "legal", "sim:a", 9.0, summary="New run <b>bold</b> [a link](http://evil.example)"),
        branch(1, "legal", "sim:b", None, status="error", error="HTTP 500 from the provider")])
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    return at


def test_the_default_pair_is_the_newest_run_and_the_one_before_it_of_the_same_mode(history):
    assert history.selectbox(key="history_compare_b").value == "r-new"
    assert history.selectbox(key="history_compare_a").value == "r-old"  # not the translation in between
    label = history.selectbox(key="history_compare_a").format_func("r-old")
    assert " · review · a, b" in label
    assert "different scales" not in shown_text(history.main)


def test_matched_by_engine_each_engine_shows_both_runs_and_a_failed_branch_reads_error(history):
    history.radio(key="history_compare_by").set_value("engine").run()
    assert not history.exception
    table = history.dataframe[-1].value
    rows = {row["engine"]: row for row in table.to_dict("records")}
    assert (rows["a"]["A mean score (0–10)"], rows["a"]["B mean score (0–10)"], rows["a"]["change"]) == (
        "6.00", "9.00", 3.0)
    assert (rows["b"]["A mean score (0–10)"], rows["b"]["B mean score (0–10)"]) == ("4.00", "error")
    assert (rows["b"]["A succeeded"], rows["b"]["B succeeded"]) == ("1 of 1", "0 of 1")
    labels = [e.label for e in history.main.expander if " — A " in e.label]
    assert labels == ["a — A 6.00 · B 9.00", "b — A 4.00 · B error"]
    shown = shown_text(history.main)
    for text in ("Old run, engine a: terse.", "Old run, engine b: vague.", "HTTP 500 from the provider",
                 "New run <b>bold</b> [a link](http://evil.example)"):
        assert text in shown  # both runs' outputs, the model's markup shown as text
    assert not any("<b>" in m.value or "](http" in m.value for m in history.main.markdown)


def test_matched_by_branch_a_branch_one_run_lacks_says_so_and_different_modes_are_named(history):
    table = history.dataframe[-1].value
    rows = {(p, e): row for p, e, row in zip(table["perspective"], table["engine"], table.to_dict("records"),
                                             strict=True)}
    assert rows["technical", "a"]["in"] == "only in A" and rows["legal", "b"]["B score (0–10)"] == "error"
    history.selectbox(key="history_compare_a").set_value("t-mid").run()
    assert not history.exception
    assert ("Run A is a translation (judged 0–100) and run B a review (scored 0–10): different scales"
            in shown_text(history.main))
