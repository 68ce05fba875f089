"""The History page and saving from the pages, through AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import OPENAI_KEY, shown_text
from tests.fakes.provider_server import status

APP = str(Path(__file__).resolve().parent.parent / "app.py")


pytestmark = pytest.mark.usefixtures("page_without_keys")


def texts(at: AppTest) -> str:
    return shown_text(at.main)


def reviewed() -> tuple[AppTest, str]:
    """The app after one run of the Review page (offline engine, the three built-in perspectives)."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.button(key="review_run").click().run()
    assert not at.exception
    return at, at.session_state["review_outcome"].run_id


def test_a_run_from_the_review_page_is_in_the_history(db_url):
    at, run_id = reviewed()
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    assert at.selectbox(key="history_run").value == run_id
    assert f"Run `{run_id}` · review · **completed**" in texts(at)
    assert [m.value for m in at.main.markdown if "-badge[" in m.value] == [":green-badge[done]"] * 3
    assert len(at.get("plotly_chart")) == 4 and len(at.get("download_button")) == 3


def test_retry_failed_branches_from_the_page(db_url, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    fake.enqueue("bad", *[status(500, {"error": {"message": "down"}}, {"retry-after-ms": "5"})] * 3)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.session_state["review_perspectives"] = ["legal"]
    at.radio(key="review_engines_mode").set_value("Matrix: every perspective × every engine").run()
    at.multiselect(key="review_engines_many").set_value(["openai:gpt-4o-mini"]).run()
    at.text_input(key="review_engines_extra").set_value("openai:bad").run()
    at.button(key="review_engines_add").click().run()
    at.button(key="review_run").click().run()
    assert at.session_state["review_outcome"].aggregate.n_ok == 1
    at.switch_page("app_pages/history.py").run()
    calls = fake.calls("gpt-4o-mini")
    at.button(key="history_retry").click().run()
    assert not at.exception
    assert "Retried: 1 of 1 branch(es) now succeeded." in texts(at)
    # at once, without a reload: the button's count, the run's status and the list
    assert at.button(key="history_retry").label == "Retry: nothing to retry"
    assert at.button(key="history_retry").disabled
    assert "· review · **completed**" in texts(at)
    assert list(at.dataframe[0].value["status"]) == ["completed"]
    assert fake.calls("gpt-4o-mini") == calls  # the successful branch was not called again
    assert "legal@openai:bad × 2" in texts(at)


def test_database_down_still_shows_the_results_and_saves_them_when_it_is_back(monkeypatch, tmp_path):
    monkeypatch.setenv("PARALLAX_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    at, run_id = reviewed()
    assert [m.value for m in at.main.markdown if "-badge[" in m.value] == [":green-badge[done]"] * 3
    assert any(w.value.startswith("Not saved to the history") for w in at.warning)
    at.switch_page("app_pages/history.py").run()
    assert "The history cannot be reached" in texts(at)
    assert "1 run(s) finished while it was unreachable" in texts(at)
    # The database is back: nothing restarts, the next attempt opens it and saves the kept run.
    monkeypatch.setenv("PARALLAX_DATABASE_URL", f"sqlite:///{tmp_path}/back.db")
    at.button(key="history_retry_db").click().run()
    assert not at.exception
    assert at.selectbox(key="history_run").value == run_id
    assert f"Run `{run_id}` · review · **completed**" in texts(at)
    assert not at.session_state["unsaved_runs"]


def test_each_run_opens_with_its_own_reducer(db_url):
    at, review_id = reviewed()
    at.switch_page("app_pages/translate.py").run()
    at.button(key="translate_run").click().run()
    translate_id = at.session_state["translate_outcome"].run_id
    at.switch_page("app_pages/history.py").run()
    at.selectbox(key="history_run").set_value(translate_id).run()
    assert at.session_state[f"history_reducer_{translate_id}"] == "best"
    assert any(c.value.startswith("best by") for c in at.main.code)  # the formula the page shows
    at.selectbox(key="history_run").set_value(review_id).run()
    assert not at.exception
    assert at.session_state[f"history_reducer_{review_id}"] == "mean"  # was "best", carried over from the other run
    assert any(c.value.startswith("mean(") for c in at.main.code)


def test_compare_puts_the_aggregate_first_and_colours_changes(db_url):
    at, first = reviewed()
    at.text_area(key="review_text").set_value("We guarantee everything, always, to everyone, forever.").run()
    at.button(key="review_run").click().run()
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    frame = at.dataframe[-1].value  # the compare tab's table
    assert frame.iloc[0]["perspective"] == "aggregate"
    from components.compare import change_colour

    assert change_colour(-2.5).startswith("color: #b91c1c") and change_colour(1).startswith("color: #15803d")
    assert change_colour(0) == "" and change_colour(float("nan")) == ""


def test_the_runs_table_has_friendly_headers_and_a_failed_branch_reads_error(db_url):
    at, first = reviewed()
    at.radio(key="review_engines_mode").set_value("Matrix: every perspective × every engine").run()
    at.multiselect(key="review_engines_many").set_value(
        ["offline:rules", "sim:flaky?latency=0&tokens=5&rate=100&fail=error"]).run()
    at.button(key="review_run").click().run()
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    assert at.dataframe[0].proto.placeholder == "—"  # a run without a score shows "—" in the browser, not "None"
    runs = at.dataframe[0].value
    assert list(runs.columns) == ["started (UTC)", "mode", "status", "review score (0–10)",
                                  "translation score (0–100)", "succeeded", "engines", "text", "run"]
    assert list(runs["succeeded"]) == ["3 of 6", "3 of 3"]
    assert list(runs["engines"]) == ["Keyword checks (offline), flaky", "Keyword checks (offline)"]
    assert not any(str(v) == "None" for v in runs.astype(str).to_numpy().ravel())
    at.selectbox(key="history_compare_a").set_value(first).run()
    compare = at.dataframe[-1].value
    assert list(compare.columns) == ["perspective", "engine", "in", "A score (0–10)", "B score (0–10)", "change"]
    flaky = compare[compare["engine"] == "flaky"]
    assert list(flaky["A score (0–10)"]) == ["—"] * 3 and list(flaky["B score (0–10)"]) == ["error"] * 3  # not "None"
    assert list(flaky["in"]) == ["only in B"] * 3
