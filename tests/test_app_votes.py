"""Blind votes through AppTest: cast on Translate (a pair and per segment), found in History with the engines
revealed, and cast later on a stored review."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from parallax.config import DEMO_JUDGE
from parallax.storage import Store
from tests.conftest import shown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")


pytestmark = pytest.mark.usefixtures("page_without_keys")


def translated() -> tuple[AppTest, str]:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/translate.py").run()
    at.button(key="translate_run").click().run()
    assert not at.exception
    return at, at.session_state["translate_outcome"].run_id


def test_a_vote_cast_on_translate_is_in_history_with_its_engines(history_db):
    at, run_id = translated()
    key = f"translate_vote_{run_id}"
    assert "Vote" in [s.value for s in at.subheader]
    left, right = at.session_state[f"{key}_pair"]
    outcome = at.session_state["translate_outcome"]
    # The pseudo-localisation came back too, but it is no translation: the pair is the two real ones.
    assert {left, right} == {"sim:alpha?latency=0.5&tokens=60&rate=30", "sim:beta?latency=1&tokens=60&rate=20"}
    at.button(key=f"{key}_left").click().run()
    assert not at.exception
    engine = {b: r.engine for b, r in outcome.results.items()}
    shown = shown_text(at.main)
    names = {"sim:alpha?latency=0.5&tokens=60&rate=30": "alpha", "sim:beta?latency=1&tokens=60&rate=20": "beta",
             "offline:pseudo": "Pseudo-localisation"}
    assert (f"Your vote: A is better. A was **{names[engine[left]]}** (`{engine[left]}`), B was "
            f"**{names[engine[right]]}** (`{engine[right]}`).") in shown
    a, b = (outcome.results[side].judge_score for side in (left, right))
    judged = "A" if a > b else "B" if b > a else "neither"
    assert (f"The judge (`{DEMO_JUDGE}`): A {a:g}, B {b:g} (0–100), so {judged} — "
            + ("the same as your vote." if judged == "A" else "not what you voted.")) in shown
    assert f"The judge ({DEMO_JUDGE}) agreed with your votes on {int(judged == 'A')} of 1 " in shown
    (vote,) = Store(history_db).votes(run_id)
    assert (vote.left, vote.right, vote.outcome, vote.segment) == (left, right, "left", None)
    assert vote.voter == at.session_state["vote_voter"] and vote.voter.startswith("session-")

    # Per segment: the candidates are numbered, never named; pick alpha's on the first segment: it beats the other
    # real translation (beta) there. The pseudo-localisation is no translation: not a candidate.
    radio = at.radio(key=f"{key}_seg_0")
    assert [o.split(" ", 1)[0] for o in radio.options] == ["**1.**", "**2.**", "No"]
    alpha, beta = "sim:alpha?latency=0.5&tokens=60&rate=30", "sim:beta?latency=1&tokens=60&rate=20"
    radio.set_value(alpha)  # a form's widgets take their values when it is submitted
    at.button(key=f"FormSubmitter:{key}_segments_form-Save my segment votes").click().run()
    assert not at.exception
    assert "Kept: your picks on 1 segment(s), as votes with the run." in shown_text(at.main)
    votes = Store(history_db).votes(run_id)
    assert len(votes) == 2 and votes[1].segment == 0 and votes[1].winner == alpha
    assert {votes[1].left, votes[1].right} == {alpha, beta}
    picks = next(d.value for d in at.dataframe if "your pick" in d.value.columns)
    assert list(picks["your pick"]) == ["alpha"]

    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    assert at.selectbox(key="history_run").value == run_id
    assert "Votes (2)" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "voter" in d.value.columns)
    assert list(table["A"]) == [names[engine[left]], names[engine[votes[1].left]]]
    assert list(table["vote"]) == ["A better", "A better" if votes[1].outcome == "left" else "B better"]
    assert list(table["segment"]) == ["whole text", "1"]
    assert "Download votes CSV" in [d.label for d in at.get("download_button")]
    # The judge's agreement with both votes, on this run and (once opened) over every run in the history.
    said = re.escape(f"The judge ({DEMO_JUDGE}) agreed with the votes on ")
    every = said + r"\d of 2 "
    assert re.search(said + r"this run on \d of 2 ", shown_text(at.main))
    assert not re.search(every, shown_text(at.main))  # not loaded while closed
    at.session_state["history_votes_all"] = True
    at.run()
    assert re.search(every, shown_text(at.main))


def test_a_stored_review_can_be_voted_on_later_in_history(history_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.radio(key="review_engines_mode").set_value("Matrix: every perspective × every engine").run()
    at.multiselect(key="review_engines_many").set_value(
        ["offline:rules", "sim:quick?latency=0.3&tokens=60&rate=60"]).run()
    at.session_state["review_perspectives"] = ["legal"]
    at.button(key="review_run").click().run()
    run_id = at.session_state["review_outcome"].run_id
    at = AppTest.from_file(APP, default_timeout=60)  # another session, later
    at.run()
    at.switch_page("app_pages/history.py").run()
    assert "No votes on this run yet" in shown_text(at.main)
    key = f"history_vote_{run_id}"
    shown = shown_text(at.main)
    assert "Both review the text from the legal perspective." in shown
    # The offline reviewer names itself in its summary and the simulated one says its label: masked.
    assert "▒▒▒ — no AI" in shown and "[simulated] ▒▒▒ on legal" in shown
    at.button(key=f"{key}_tie").click().run()
    assert not at.exception
    assert "Votes (1)" in [s.value for s in at.subheader]
    assert "Their own scores: A " in shown_text(at.main)
    (vote,) = Store(history_db).votes(run_id)
    assert vote.outcome == "tie"
