"""The page tells the truth around a run: edits after it, its address, a refresh mid-run (AppTest)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.settings import _open_history
from parallax.config import load_config
from parallax.run.events import BranchFinished
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review
from parallax.storage import Store
from parallax.storage.history import record
from tests.conftest import shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")
OUTDATED = "These results are for the previous input"


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PARALLAX_CONFIG", "PARALLAX_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    _open_history.clear()


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_editing_after_a_run_marks_the_results_outdated_until_the_next_run(tmp_path):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.button(key="review_run").click().run()
    assert OUTDATED not in warnings(at)
    # Kept in this test's PARALLAX_HOME, set after Parallax was imported: not in the user's own history.
    assert Store(f"sqlite:///{tmp_path / 'history.db'}").load_run(at.query_params["run"]).status == "completed"
    assert at.query_params["run"] == at.session_state["review_outcome"].run_id  # the run has its address
    at.text_area(key="review_text").set_value("A different text to review, with other words.").run()
    assert OUTDATED in warnings(at)
    at.multiselect(key="review_perspectives").set_value(["legal"]).run()
    assert OUTDATED in warnings(at)
    at.segmented_control(key=f"review_reducer_{at.session_state['review_outcome'].run_id}").set_value("min").run()
    assert OUTDATED in warnings(at)  # still outdated; a reducer alone would not have made it so
    at.button(key="review_run").click().run()
    assert OUTDATED not in warnings(at)


def test_switching_the_reducer_does_not_make_results_outdated():
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.button(key="review_run").click().run()
    at.segmented_control(key=f"review_reducer_{at.session_state['review_outcome'].run_id}").set_value("min").run()
    assert OUTDATED not in warnings(at)


def stored_run(tmp_path: Path, interrupted: bool) -> str:
    store = Store(f"sqlite:///{tmp_path / 'history.db'}")
    plan = plan_review("Release notes that a colleague reviewed.", load_config(env={}), ["technical", "legal"],
                       ["offline:rules"])
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store)
    if interrupted:  # the tab was refreshed after the first branch finished: the others never did
        first = asyncio.run(execute(plan)).ordered()[0]  # a real result, from a run nobody records
        outcome.apply(BranchFinished(first))
        outcome.cancel_unfinished()
    else:
        asyncio.run(execute(plan, outcome=outcome))
    return plan.run_id


def opened(run_id: str) -> AppTest:
    """The app loaded from the address `?run=ID`, as a browser would after a refresh or from a shared link."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception
    return at


def test_a_runs_address_opens_it_in_its_own_view_on_any_page_load(tmp_path, monkeypatch):
    monkeypatch.setenv("PARALLAX_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    run_id = stored_run(tmp_path, interrupted=False)
    at = opened(run_id)
    assert at.session_state["review_outcome"].run_id == run_id
    text = shown_text(at.main)
    assert f"Run `{run_id}`, opened from its address" in text
    assert [m.value for m in at.main.markdown if "-badge[" in m.value] == [":green-badge[done]"] * 2
    assert OUTDATED not in warnings(at)

    other = opened("no-such-run")
    assert "There is no run `no-such-run` in the history" in warnings(other)


def test_after_a_refresh_mid_run_the_page_says_the_run_was_interrupted(tmp_path, monkeypatch):
    monkeypatch.setenv("PARALLAX_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    run_id = stored_run(tmp_path, interrupted=True)
    at = opened(run_id)
    text = warnings(at)
    assert "Your last run was interrupted (a refresh or a closed tab): 1 of 2 branch(es) had finished" in text
    assert f"(/history?run={run_id})" in text
    badges = sorted(m.value for m in at.main.markdown if "-badge[" in m.value)
    assert badges == [":gray-badge[cancelled]", ":green-badge[done]"]
    history = opened(run_id)
    history.switch_page("app_pages/history.py").run()
    assert history.selectbox(key="history_run").value == run_id
