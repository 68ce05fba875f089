"""Parallax's select-best verdicts against professional translators' MQM verdicts (a fast version of
bench/validate_mqm.py, on a committed extract of newstest2021 en-de: Freitag et al. 2021,
google/wmt-mqm-human-evaluation, Apache-2.0 — see the header of the data file).

The judge replays the annotators' errors, so this checks the scoring and the statistics, not an LLM's ability to
find errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.validate_mqm import Agreement, parse_avg_scores, replay_penalty, validate_avg_scores
from parallax.translate.judge import mqm_score

EXTRACT = Path(__file__).parent / "data" / "mqm_newstest2021_ende_extract.tsv"


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    found = validate_avg_scores(EXTRACT.read_text(encoding="utf-8"))
    print("\n" + found.table("newstest2021 en-de extract (5 systems, 117 segments in 5 runs of consecutive rated "
                             "seg ids) × pairs") + "\n" + found.disagreements())
    return found


def test_extract_is_what_the_header_says() -> None:
    scores = parse_avg_scores(EXTRACT.read_text(encoding="utf-8"))
    assert sorted(scores) == ["Facebook-AI", "HuaweiTSC", "Nemo", "Online-W", "UEdin"]
    assert all(len(s) == 117 and None not in s.values() for s in scores.values())


@pytest.mark.parametrize(("penalty", "score"), [
    (0, 100), (0.1, 100), (1, 96), (1.1, 96), (2.3, 92), (5, 80), (5.1, 80), (6, 76), (11.2, 56),
    (14, 48),  # 2 majors + 4 minors: GEMBA counts the first five errors only (2 majors + 3 minors)
    (21, 16), (24, 16), (25, 0)])
def test_replayed_errors_reproduce_the_human_penalty_on_gembas_scale(penalty: float, score: float) -> None:
    assert mqm_score(replay_penalty(penalty)) == score


def test_parallax_agrees_with_the_humans_on_clear_verdicts(agreement: Agreement) -> None:
    agreeing, compared = agreement.direction(only_clear=True)
    assert compared >= 10, "too few comparisons the humans call clear to measure agreement on"
    assert agreeing / compared >= 0.90
    # Never a clear winner against the one the humans clearly prefer.
    assert agreement.count(True, "B") == 0


def test_parallax_calls_clear_about_as_often_as_the_humans(agreement: Agreement) -> None:
    same, total = agreement.clear_agreement()
    assert total == 5 * 10  # 5 blocks × 10 pairs of systems
    assert same / total >= 0.90
    assert agreement.count(False, "A") + agreement.count(False, "B") <= 2  # no clear call the humans do not make
