"""The Review page through Streamlit's AppTest: what a user sees after each click."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.pickers import MATRIX
from tests.conftest import shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")
FLAKY = "sim:flaky?latency=0.8&tokens=40&rate=40&fail=error"


pytestmark = pytest.mark.usefixtures("page_without_keys")


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    return at


def texts(at: AppTest) -> str:
    return shown_text(at)


def badges(at: AppTest) -> list[str]:
    return [m.value for m in at.main.markdown if "-badge[" in m.value]


def add_perspective(at: AppTest):  # type: ignore[no-untyped-def]
    """The "Add perspective" form's submit button."""
    return next(b for b in at.button if b.label == "Add perspective")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_first_click_gives_a_real_offline_result():
    at = app()
    assert "No API key is configured" in texts(at)
    run = at.button(key="review_run")
    assert not run.disabled
    assert at.session_state["review_perspectives"] == ["technical", "business", "legal"]
    run.click().run()
    assert not at.exception
    assert badges(at) == [":green-badge[done]"] * 3
    assert metric(at, "Succeeded") == "3 of 3"
    assert 0 <= float(metric(at, "Aggregate score (0–10)")) <= 10
    assert len(at.get("plotly_chart")) == 4
    assert [d.label for d in at.get("download_button")] == ["Download CSV", "Download JSON", "Download XLSX"]
    assert "Personal data" in texts(at)  # the consolidated issues, quoting the text
    assert "mean(" in "\n".join(c.value for c in at.code)  # the reducer's formula


def test_switching_the_reducer_recomputes_without_a_new_run():
    at = app()
    at.button(key="review_run").click().run()
    run_id = at.session_state["review_outcome"].run_id
    scores = {r.perspective: r.score for r in at.session_state["review_outcome"].ordered()}
    at.session_state[f"review_reducer_{run_id}"] = "min"
    at.run()
    assert metric(at, "Aggregate score (0–10)") == f"{min(scores.values()):.2f}"
    assert at.session_state["review_outcome"].run_id == run_id
    assert any(c.value.startswith("min(") for c in at.code)


@pytest.mark.parametrize("text,message", [
    ("   ", "The text is empty"),
    ("x" * 200_001, "the limit is 200,000"),
])
def test_invalid_input_disables_run(text, message):
    at = app()
    at.text_area(key="review_text").set_value(text).run()
    assert at.button(key="review_run").disabled
    assert message in texts(at)


def test_no_perspective_disables_run():
    at = app()
    at.multiselect(key="review_perspectives").set_value([]).run()
    assert at.button(key="review_run").disabled
    assert "Choose at least one perspective." in texts(at)


def test_a_failing_branch_shows_an_error_card_while_the_others_finish():
    at = app()
    at.radio(key="review_engines_mode").set_value(MATRIX).run()
    at.multiselect(key="review_engines_many").set_value(["offline:rules", FLAKY]).run()
    at.button(key="review_run").click().run()
    assert not at.exception
    assert badges(at).count(":green-badge[done]") == 3 and badges(at).count(":red-badge[error]") == 3
    assert "Simulated: server error (HTTP 500) after 1 attempt" in texts(at)
    assert metric(at, "Succeeded") == "3 of 6"


def test_a_sortable_table_sums_up_each_engine_on_a_named_scale():
    at = app()
    at.multiselect(key="review_perspectives").set_value(["technical", "legal"]).run()
    at.radio(key="review_engines_mode").set_value(MATRIX).run()
    at.multiselect(key="review_engines_many").set_value(["offline:rules", FLAKY]).run()
    at.button(key="review_run").click().run()
    assert not at.exception
    assert "Per engine" in [h.value for h in at.subheader]
    element = next(d for d in at.dataframe if "engine id" in d.value.columns)
    assert element.proto.placeholder == "—"  # what the browser shows for a missing number (not "None")
    table = element.value
    assert list(table.columns) == ["engine", "mean score (0–10)", "succeeded", "failures", "mean latency (s)",
                                   "tokens/s", "cost", "engine id"]
    assert list(table["engine"]) == ["Keyword checks (offline)", "flaky"]
    assert list(table["engine id"]) == ["offline:rules", FLAKY]
    assert list(table["succeeded"]) == ["2 of 2", "0 of 2"] and list(table["failures"]) == [0, 2]
    outcome = at.session_state["review_outcome"]
    scores = [r.score for r in outcome.ordered() if r.engine == "offline:rules"]
    assert table["mean score (0–10)"][0] == sum(scores) / 2 and list(table["cost"]) == ["$0", "$0"]
    assert table["mean score (0–10)"].isna()[1]  # no score: shown as "—", never 0


def test_unknown_engine_id_is_a_clear_error_and_costs_nothing():
    at = app()
    at.text_input(key="review_engines_extra").set_value("gpt-5").run()
    at.button(key="review_engines_add").click().run()
    assert at.session_state["review_engines_one"] == "gpt-5"
    assert at.button(key="review_run").disabled
    assert "Unknown engine 'gpt-5'; valid forms" in texts(at)


def test_a_perspective_added_in_the_page_is_used():
    at = app()
    at.text_input(key="review_perspectives_new_name").set_value("Accessibility")
    at.text_area(key="review_perspectives_new_rubric").set_value("- Alt text for images")
    add_perspective(at).click().run()
    assert not at.exception
    assert "accessibility" in at.session_state["review_perspectives"]
    at.button(key="review_run").click().run()
    assert "accessibility@offline:rules" in at.session_state["review_outcome"].results


def test_a_typed_key_is_used_but_never_shown():
    key = "fake-key-typed-0123456789abcdefghijkl"
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["key_OPENAI_API_KEY"] = key
    at.run()
    page = texts(at) + "".join(str(e.value) for e in at.sidebar.markdown)
    assert "OpenAI** — key typed for this session" in page
    assert key not in page
    assert at.session_state["review_engines_one"] == "openai:gpt-4o-mini"  # the configured provider is the default


def test_a_perspective_without_a_rubric_is_refused():
    at = app()
    at.text_input(key="review_perspectives_new_name").set_value("tone")
    add_perspective(at).click().run()
    assert "Perspective 'tone' needs a rubric" in texts(at)
    assert "tone" not in at.session_state["review_perspectives"]


def test_suggested_perspectives_can_be_accepted():
    at = app()
    at.text_area(key="review_text").set_value("We collect personal data and cookies. Passwords are encrypted.").run()
    at.button(key="review_perspectives_suggest").click().run()
    assert not at.exception
    table = at.session_state["review_perspectives_suggested"]
    assert list(table["name"])[:2] == ["privacy", "security"]
    at.button(key="review_perspectives_suggest_add").click().run()
    assert {"privacy", "security"} <= set(at.session_state["review_perspectives"])
    at.button(key="review_run").click().run()
    assert "privacy@offline:rules" in at.session_state["review_outcome"].results


def test_an_engine_added_right_after_switching_to_the_matrix_joins_the_default():
    at = app()
    at.text_input(key="review_engines_extra").set_value("sim:slow?latency=30").run()
    at.session_state["review_engines_mode"] = MATRIX  # the Add click lands before the engines list was ever drawn
    at.button(key="review_engines_add").click().run()
    assert at.session_state["review_engines_many"] == ["offline:rules", "sim:slow?latency=30"]


def add_engines(at: AppTest, *engine_ids: str) -> None:
    for engine_id in engine_ids:
        at.text_input(key="review_engines_extra").set_value(engine_id).run()
        at.button(key="review_engines_add").click().run()


def test_a_matrix_is_a_grid_engines_as_column_headers_by_short_name_and_perspectives_as_rows():
    at = app()
    at.multiselect(key="review_perspectives").set_value(["technical", "legal"]).run()
    at.radio(key="review_engines_mode").set_value(MATRIX).run()
    at.multiselect(key="review_engines_many").set_value([]).run()
    ids = [f"sim:model-{i}?latency=0.2&tokens=150&rate=1000" for i in range(7)]
    add_engines(at, *ids)
    at.button(key="review_run").click().run()
    assert not at.exception
    # Seven column headers, each the engine's short name, its full id on hover (the help tooltip).
    headers = [(re.sub(r"\\(.)", r"\1", m.value), m.proto.help) for m in at.main.markdown
               if m.proto.help.startswith("Engine `")]
    assert headers == [(f"**model-{i}**", f"Engine `{ids[i]}`") for i in range(7)]
    # Each perspective once, as its row's header: no card is titled "technical" seven times.
    assert [m.value for m in at.main.markdown if m.value in ("**technical**", "**legal**")] == [
        "**technical**", "**legal**"]
    assert [t.value for t in at.text if "sim:" in t.value] == []  # no raw id printed in a card to break mid-word
    assert "scroll the grid sideways to see every engine" in texts(at)
    assert badges(at) == [":green-badge[done]"] * 14


def test_switching_to_the_matrix_keeps_exactly_the_engine_the_page_showed(monkeypatch):
    from tests.conftest import OPENAI_KEY

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)  # a provider: its model is the page's default engine
    at = app()
    add_engines(at, "sim:mine?latency=0")  # one engine for all: the typed one is now selected
    at.radio(key="review_engines_mode").set_value(MATRIX).run()
    # The matrix starts with the engine the page showed, not with the default model (which ran, and was billed,
    # beside the typed engines while its chip was hidden).
    assert at.multiselect(key="review_engines_many").value == ["sim:mine?latency=0"]
    add_engines(at, "sim:e1?latency=0", "sim:e2?latency=0", "sim:e3?latency=0")
    chosen = at.multiselect(key="review_engines_many").value
    assert chosen == ["sim:mine?latency=0", "sim:e1?latency=0", "sim:e2?latency=0", "sim:e3?latency=0"]
    assert "Runs exactly these 4 engines: Demo · mine, Demo · e1, Demo · e2, Demo · e3." in texts(at)
    at.button(key="review_run").click().run()
    assert {r.engine for r in at.session_state["review_outcome"].ordered()} == set(chosen)


def test_a_placeholder_key_from_the_secrets_example_is_said_and_not_used(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "your-openai-key")
    at = app()
    sidebar = shown_text(at.sidebar)
    assert "**OpenAI** — `OPENAI_API_KEY` holds a placeholder, not a key" in sidebar
    assert at.session_state["review_engines_one"] == "offline:rules"  # not OpenAI with a key that would fail


def test_a_link_to_a_missing_run_names_it_without_stray_backslashes():
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["run"] = "nonexistent-123"
    at.run()
    assert not at.exception
    assert "There is no run `nonexistent-123` in the history" in texts(at)  # a code span shows a "\" as it is


def test_the_prompt_and_reply_name_the_engine_without_stray_backslashes():
    at = app()
    at.session_state["review_perspectives"] = ["legal"]
    at.text_input(key="review_engines_extra").set_value("sim:x?latency=0").run()
    at.button(key="review_engines_add").click().run()
    at.button(key="review_run").click().run()
    assert not at.exception
    assert "Engine `sim:x?latency=0`" not in texts(at)  # the prompt and reply are drawn when opened
    (opener,) = [k for k in at.session_state.keys() if str(k).startswith("review_board_exchange_")]
    at.session_state[opener] = True  # what opening "Prompt and raw reply" sets
    at.run()
    assert "Engine `sim:x?latency=0`" in texts(at)


def test_a_text_too_long_even_for_one_chunk_says_1_chunk(fake, monkeypatch):
    from tests.conftest import OPENAI_KEY
    from tests.fakes.provider_server import status

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    refusal = status(400, {"error": {"message": "maximum context length exceeded", "code": "context_length_exceeded"}})
    fake.enqueue("m", refusal, refusal)  # the whole text, then its only chunk (the sample is short)
    at = app()
    at.session_state["review_perspectives"] = ["legal"]
    at.text_input(key="review_engines_extra").set_value("openai:m").run()
    at.button(key="review_engines_add").click().run()
    at.button(key="review_run").click().run()
    assert not at.exception
    assert "1 of 1 chunk failed; chunk 1: OpenAI: the text is too long" in texts(at)
    assert "chunks failed" not in texts(at)


def test_the_sidebar_says_whether_deepl_and_libretranslate_are_configured(monkeypatch):
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    monkeypatch.setenv("LIBRETRANSLATE_URL", "http://127.0.0.1:5000")
    at = app()
    sidebar = [m.value for m in at.sidebar.markdown]
    assert any("**DeepL** — not configured (`DEEPL_AUTH_KEY`)" in m for m in sidebar)
    assert any("**LibreTranslate** — server from secrets or environment" in m for m in sidebar)
