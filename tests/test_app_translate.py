"""The Translate page through AppTest: defaults with no key, best on top, charts, bad input, fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from parallax.config import DEMO_TRANSLATORS
from tests.conftest import shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")


pytestmark = pytest.mark.usefixtures("page_without_keys")


def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("app_pages/translate.py").run()
    assert not at.exception
    return at


def texts(at: AppTest) -> str:
    return shown_text(at.main)


def test_first_click_compares_three_engines_with_a_judge_and_puts_the_best_on_top():
    at = page()
    assert at.session_state["translate_engines_many"] == ["offline:pseudo", *DEMO_TRANSLATORS[:2]]
    assert "pseudo-localisation" in texts(at)
    at.button(key="translate_run").click().run()
    assert not at.exception
    assert [m.value for m in at.main.markdown if "green-badge[" in m.value] == [":green-badge[done]"] * 3
    flags = [m.value for m in at.main.markdown if "red-badge[not a translation" in m.value]
    assert flags == [":red-badge[not a translation: pseudo\\-localisation]"]  # on the pseudo card only
    outcome = at.session_state["translate_outcome"]
    assert outcome.aggregate.method == "best" and outcome.aggregate.best in outcome.results
    # Pseudo-localisation is no translation: never judged, never best; the simulated ones are judged.
    assert [r.judge_score is not None for r in outcome.ordered()] == [False, True, True]
    assert outcome.aggregate.best != "offline:pseudo"
    # The verdict names engines by their short names on the page ("alpha", not "sim:alpha?latency=…").
    headline = outcome.aggregate.headline().replace(outcome.aggregate.best, outcome.aggregate.best[4:].split("?")[0])
    assert f"**{headline}**" in texts(at) and "latency=" not in headline
    # Simulated engines and the demo judge: the verdict says it is a demo, not a real verdict.
    assert "demo] Demo: simulated engines" in texts(at)
    assert len(at.get("plotly_chart")) == 4  # judge scores, agreement heatmap, quality vs latency, timeline
    assert [d.label for d in at.get("download_button")] == [
        "Download CSV", "Download JSON", "Download XLSX", "Download segments CSV",
        "Download TXT", "Download DOCX", "Download provenance JSON"]  # the last three: the consensus translation
    consensus = next(e for e in at.expander if e.label.startswith("Consensus translation"))
    final = consensus.text_area[0].value
    assert final and all(r.text not in ("", final) or True for r in outcome.ordered())
    assert final.split(" ")[0] in {r.segments[0].split(" ")[0] for r in outcome.ordered() if r.segments}
    # The segments view: a row per source segment, a column per real translation with its score.
    table = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert list(table.columns[:2]) == ["#", "source"] and len(table) == len(outcome.assessment.units) > 1
    assert {"alpha", "alpha · score", "beta", "beta · score"} <= set(table.columns)
    assert "Compare two translations" in [s.value for s in at.subheader]


def test_same_source_and_target_disables_run():
    at = page()
    at.selectbox(key="translate_target").set_value("en").run()
    assert at.button(key="translate_run").disabled
    assert "Source and target are both English" in texts(at)


def test_a_bad_glossary_line_is_named():
    at = page()
    at.text_area(key="translate_glossary").set_value("folder,Ordner\nnonsense\n").run()
    assert at.button(key="translate_run").disabled
    assert "Glossary line 2: expected 'term,translation'" in texts(at)


def test_a_fallback_chain_shows_who_answered():
    at = page()
    at.multiselect(key="translate_engines_many").set_value([DEMO_TRANSLATORS[2]]).run()
    at.selectbox(key="translate_judge").set_value("No judge").run()
    at.button(key="translate_run").click().run()
    (r,) = at.session_state["translate_outcome"].ordered()
    assert r.answered_by.startswith("sim:backup") and r.fallbacks[0]["engine"].startswith("sim:down")
    assert "after 1 failure(s)" in texts(at)
    assert "No judge ran" in texts(at)


def test_clear_all_then_add_keeps_exactly_what_the_user_chose():
    at = page()
    at.multiselect(key="translate_engines_many").set_value([]).run()  # "Clear all"
    at.text_input(key="translate_engines_extra").set_value("offline:pseudo").run()
    at.button(key="translate_engines_add").click().run()
    assert at.session_state["translate_engines_many"] == ["offline:pseudo"]  # the defaults did not come back
    assert "**1 branch**" in texts(at)


def test_no_clear_winner_is_said_on_the_page(fake, monkeypatch, tmp_path):
    """Three equal translations, a judge biased to position A, side by side, 3 samples: the page names no winner,
    and measures the position effect."""
    import random

    from tests.conftest import OPENAI_KEY
    from tests.fakes.judges import position_biased
    from tests.fakes.provider_server import ok

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path))
    bias = position_biased("gpt-4o-mini", random.Random(5))
    german = "Willkommen bei Acme Sync. Ihre Dateien werden alle paar Minuten automatisch gespeichert."
    fake.answer = lambda model, body: ok(german) if model in ("a", "b", "c") else bias(model, body)
    at = page()
    at.multiselect(key="translate_engines_many").set_value([]).run()
    for engine in ("openai:a", "openai:b", "openai:c"):
        at.text_input(key="translate_engines_extra").set_value(engine).run()
        at.button(key="translate_engines_add").click().run()
    at.selectbox(key="translate_judge").set_value("openai:gpt-4o-mini").run()
    at.number_input(key="translate_samples").set_value(3).run()
    at.radio(key="translate_protocol").set_value("compare").run()
    at.button(key="translate_run").click().run()
    assert not at.exception
    outcome = at.session_state["translate_outcome"]
    assert outcome.aggregate.confident is not True
    text = texts(at)
    headline = outcome.aggregate.headline().replace("openai:", "")
    assert f"**{headline}**" in text and "Best translation:" not in text
    assert "Judge position effect, measured over the segments" in text
    assert "judge preferred it in" in text  # samples report the judge's consistency, never a clear win


def test_the_judge_can_be_any_engine_id_typed_or_named(tmp_path, monkeypatch):
    (tmp_path / "parallax.toml").write_text('[engines.local]\nbase_url = "http://127.0.0.1:9/v1"\n'
                                            'model = "qwen"\n', encoding="utf-8")
    monkeypatch.setenv("PARALLAX_CONFIG", str(tmp_path / "parallax.toml"))
    at = page()
    assert "local" in at.selectbox(key="translate_judge").options  # a named engine of parallax.toml
    at.text_input(key="translate_judge_typed").set_value("sim:strict?latency=0").run()  # typed by the user
    at.button(key="translate_judge_use").click().run()
    assert at.selectbox(key="translate_judge").value == "sim:strict?latency=0"
    assert not at.exception and not at.error
    at.button(key="translate_run").click().run()
    judge_samples = at.session_state["translate_outcome"].assessment.judge_samples
    assert judge_samples and all(s.findings is not None for s in judge_samples)
    at.text_input(key="translate_judge_typed").set_value("offline:rules").run()  # cannot judge: said, no call
    at.button(key="translate_judge_use").click().run()
    assert "Offline:rules cannot judge: it is for review only" in shown_text(at.main, kinds=("error",))
    assert at.button(key="translate_run").disabled
