"""Runs you can reopen and rerun (AppTest): a run's address in a new session (a refresh) puts its inputs back into
the form, and "Edit and rerun" — on the page, or from History — loads them to change and run again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.pickers import MATRIX, NO_JUDGE, ONE_FOR_ALL
from parallax.config import DEMO_TRANSLATORS, load_config
from parallax.run.execute import RunOutcome
from parallax.run.plan import plan_review
from parallax.storage import open_store
from parallax.storage.history import record
from tests.conftest import OPENAI_KEY, shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")
OUTDATED = "These results are for the previous input"
QUICK = "sim:quick?latency=0.3&tokens=60&rate=60"
TEXT = "Our new plan is the fastest on the market, guaranteed. Write to jane@example.com to upgrade today."


pytestmark = pytest.mark.usefixtures("page_without_keys")


def start(run_id: str | None = None, edit: bool = False) -> AppTest:
    """A new session, as a browser opens one: at the app's address, or at a run's (a refresh, a shared link)."""
    at = AppTest.from_file(APP, default_timeout=30)
    if run_id:
        at.query_params["run"] = run_id
    if edit:
        at.query_params["edit"] = "1"
    at.run()
    assert not at.exception
    return at


def warnings(at: AppTest) -> str:
    return shown_text(at.main, ("warning",))


def infos(at: AppTest) -> str:
    return shown_text(at.main, ("info",))


def reviewed() -> tuple[AppTest, str]:
    """A review run whose every input differs from the page's defaults."""
    at = start()
    at.text_area(key="review_text").set_value(TEXT).run()
    at.multiselect(key="review_perspectives").set_value(["legal"]).run()
    at.radio(key="review_engines_mode").set_value(MATRIX).run()
    at.multiselect(key="review_engines_many").set_value(["offline:rules", QUICK]).run()
    at.number_input(key="review_samples").set_value(2).run()
    at.number_input(key="review_timeout").set_value(60.0).run()
    at.number_input(key="review_concurrency").set_value(1).run()
    at.button(key="review_run").click().run()
    assert not at.exception
    assert OUTDATED not in warnings(at)
    return at, at.session_state["review_outcome"].run_id


def assert_review_inputs(at: AppTest) -> None:
    assert at.text_area(key="review_text").value == TEXT
    assert at.multiselect(key="review_perspectives").value == ["legal"]
    assert at.radio(key="review_engines_mode").value == MATRIX
    assert at.multiselect(key="review_engines_many").value == ["offline:rules", QUICK]
    assert at.number_input(key="review_samples").value == 2
    assert at.number_input(key="review_timeout").value == 60.0
    assert at.number_input(key="review_concurrency").value == 1


def test_a_refresh_of_a_review_run_puts_its_inputs_back_into_the_form():
    _, run_id = reviewed()
    at = start(run_id)  # the browser reloads the run's address: a new session
    assert_review_inputs(at)
    assert at.session_state["review_outcome"].run_id == run_id
    assert f"Run `{run_id}`, opened from its address, with its inputs above" in infos(at)
    assert OUTDATED not in warnings(at)  # nothing was changed
    at.text_area(key="review_text").set_value(TEXT + " Now with more words.").run()
    assert OUTDATED in warnings(at)  # a change after reopening is a change
    at.text_area(key="review_text").set_value(TEXT).run()
    assert OUTDATED not in warnings(at)
    at.button(key="review_run").click().run()  # the same inputs run again, as they are
    assert not at.exception
    again = at.session_state["review_outcome"]
    assert again.run_id != run_id and [b.branch_id for b in again.branches] == [
        "legal@offline:rules", f"legal@{QUICK}"]


def test_a_page_only_perspective_and_a_typed_engine_come_back_selectable():
    at = start()
    at.text_input(key="review_perspectives_new_name").set_value("accessibility")
    at.text_input(key="review_perspectives_new_description").set_value("readability for screen-reader users")
    at.text_area(key="review_perspectives_new_rubric").set_value("- Headings are descriptive")
    next(b for b in at.button if b.label == "Add perspective").click().run()
    at.multiselect(key="review_perspectives").set_value(["accessibility"]).run()
    at.text_input(key="review_engines_extra").set_value("sim:typed?latency=0").run()
    at.button(key="review_engines_add").click().run()
    at.button(key="review_run").click().run()
    run_id = at.session_state["review_outcome"].run_id

    fresh = start(run_id)  # a session where neither the perspective nor the engine was ever added
    assert fresh.multiselect(key="review_perspectives").value == ["accessibility"]
    assert "accessibility" in fresh.multiselect(key="review_perspectives").options
    assert fresh.radio(key="review_engines_mode").value == ONE_FOR_ALL
    assert fresh.selectbox(key="review_engines_one").value == "sim:typed?latency=0"
    assert OUTDATED not in warnings(fresh)
    assert not fresh.button(key="review_run").disabled
    fresh.button(key="review_run").click().run()
    assert not fresh.exception
    assert [b.branch_id for b in fresh.session_state["review_outcome"].branches] == [
        "accessibility@sim:typed?latency=0"]


def test_an_engine_that_cannot_run_now_stays_selected_and_is_said_in_one_sentence():
    # A run made where an OpenAI key was set, reopened where none is.
    plan = plan_review(TEXT, load_config(env={"OPENAI_API_KEY": OPENAI_KEY}),
                       ["technical"], ["openai:gpt-4o-mini"])
    record(plan, RunOutcome.for_plan(plan), open_store(os.environ["PARALLAX_DATABASE_URL"]))
    at = start(plan.run_id)
    assert at.selectbox(key="review_engines_one").value == "openai:gpt-4o-mini"
    assert at.text_area(key="review_text").value == TEXT
    assert ("This run used `openai:gpt-4o-mini`, which cannot run now (openai:gpt-4o-mini needs OPENAI_API_KEY to "
            "be set (in the environment or secrets))") in warnings(at)
    assert at.button(key="review_run").disabled


def test_a_runs_address_in_a_session_with_its_own_inputs_offers_edit_and_rerun():
    _, run_id = reviewed()
    at = start()
    at.text_area(key="review_text").set_value("This session's own text, typed before the link was opened.").run()
    at.query_params["run"] = run_id  # the address changes in this session: its form keeps what it holds
    at.run()
    assert at.text_area(key="review_text").value.startswith("This session's own text")
    assert "The inputs above are this page's, not the run's" in infos(at)
    assert OUTDATED not in warnings(at)
    at.button(key="review_edit_run").click().run()
    assert not at.exception
    assert_review_inputs(at)
    assert f"Run `{run_id}`, opened from its address, with its inputs above" in infos(at)
    assert OUTDATED not in warnings(at)


def test_edit_and_rerun_from_history_loads_a_review_run_into_the_review_page():
    at, run_id = reviewed()
    at.text_area(key="review_text").set_value("Something else entirely.").run()
    at.switch_page("app_pages/history.py").run()
    assert at.selectbox(key="history_run").value == run_id
    at.button(key="history_edit").click().run()
    assert not at.exception
    assert_review_inputs(at)
    assert "edit" not in at.query_params and at.query_params["run"] == run_id
    assert OUTDATED not in warnings(at)
    at.switch_page("app_pages/review.py")  # where the browser now is (AppTest would rerun the page it was sent to)
    at.multiselect(key="review_perspectives").set_value(["legal", "technical"]).run()
    assert OUTDATED in warnings(at)


def translated(judge: str) -> tuple[AppTest, str]:
    at = start()
    at.switch_page("app_pages/translate.py").run()
    at.text_area(key="translate_text").set_value("Open the shared folder, then choose Share.").run()
    at.selectbox(key="translate_source").set_value("en").run()
    at.selectbox(key="translate_target").set_value("fr").run()
    at.multiselect(key="translate_engines_many").set_value(["offline:pseudo", DEMO_TRANSLATORS[0]]).run()
    if judge == NO_JUDGE:
        at.selectbox(key="translate_judge").set_value(NO_JUDGE).run()
    else:  # an id typed in this session only
        at.text_input(key="translate_judge_typed").set_value(judge).run()
        at.button(key="translate_judge_use").click().run()
    at.text_area(key="translate_glossary").set_value('folder,dossier\n"share, please",partager').run()
    at.text_input(key="translate_tone").set_value("formal").run()
    at.text_area(key="translate_reference").set_value("Ouvrez le dossier partagé, puis choisissez Partager.").run()
    at.number_input(key="translate_samples").set_value(2).run()
    at.radio(key="translate_protocol").set_value("compare").run()
    at.button(key="translate_run").click().run()
    assert not at.exception
    assert OUTDATED not in warnings(at)
    return at, at.session_state["translate_outcome"].run_id


def assert_translate_inputs(at: AppTest, judge: str) -> None:
    assert at.text_area(key="translate_text").value == "Open the shared folder, then choose Share."
    assert (at.selectbox(key="translate_source").value, at.selectbox(key="translate_target").value) == ("en", "fr")
    assert at.multiselect(key="translate_engines_many").value == ["offline:pseudo", DEMO_TRANSLATORS[0]]
    assert at.selectbox(key="translate_judge").value == judge
    assert at.text_area(key="translate_glossary").value == 'folder,dossier\n"share, please",partager'
    assert at.text_input(key="translate_tone").value == "formal"
    assert at.text_area(key="translate_reference").value == "Ouvrez le dossier partagé, puis choisissez Partager."
    assert at.number_input(key="translate_samples").value == 2
    assert at.radio(key="translate_protocol").value == "compare"


def test_a_refresh_of_a_translate_run_puts_its_languages_judge_and_settings_back():
    judge = "sim:strict?latency=0&tokens=20&rate=200"
    _, run_id = translated(judge)
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("app_pages/translate.py")
    at.query_params["run"] = run_id
    at.run()  # a new session at /translate?run=ID
    assert not at.exception
    assert_translate_inputs(at, judge)
    # typed in the other session only, offered here under its label
    assert "Demo · strict (latency=0, tokens=20, rate=200)" in at.selectbox(key="translate_judge").options
    assert f"Run `{run_id}`, opened from its address, with its inputs above" in infos(at)
    assert OUTDATED not in warnings(at)
    at.selectbox(key="translate_target").set_value("es").run()
    assert OUTDATED in warnings(at)


def test_edit_and_rerun_from_history_loads_a_translate_run_into_the_translate_page():
    _, run_id = translated(NO_JUDGE)
    at = start()  # another session, opening History first
    at.switch_page("app_pages/history.py").run()
    at.selectbox(key="history_run").set_value(run_id).run()
    at.button(key="history_edit").click().run()
    assert not at.exception
    assert_translate_inputs(at, NO_JUDGE)
    assert at.session_state["translate_outcome"].run_id == run_id
    assert OUTDATED not in warnings(at)


def test_editing_a_missing_run_says_so_without_a_traceback():
    at = start("no-such-run", edit=True)
    assert "There is no run `no-such-run` in the history" in warnings(at)
    assert at.text_area(key="review_text").value.startswith("Acme Sync 4.0")  # the form keeps the sample
