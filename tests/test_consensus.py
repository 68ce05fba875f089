"""The consensus translation: per segment, the candidate the others agree with most (or the judge scored best)."""

from __future__ import annotations

import io
import json

from parallax.results import BranchResult
from parallax.translate.consensus import consensus, to_docx

UNITS = ["The dog runs home fast.", "The cat sleeps all day.", "The bird sings at dawn."]
# For each segment a central wording and two variants that differ from it in different words: the central one
# agrees most with the others.
CENTRAL = ["Der Hund läuft schnell nach Hause.", "Die Katze schläft den ganzen Tag.",
           "Der Vogel singt im Morgengrauen."]
VARIANT_1 = ["Der Hund rennt schnell nach Hause.", "Die Katze döst den ganzen Tag.",
             "Der Vogel trällert im Morgengrauen."]
VARIANT_2 = ["Der Hund läuft rasch heim.", "Die Katze schläft tagelang.", "Der Vogel singt bei Tagesanbruch."]


def result(name: str, order: int, segments: list[str], scores: list[float] | None = None,
           flag: str | None = None) -> BranchResult:
    return BranchResult(name, order, name, "translation", text=" ".join(segments), segments=segments,
                        segment_scores=list(scores or []), non_translation=flag)


def three_engines_each_central_once() -> list[BranchResult]:
    rows = [[CENTRAL[0], VARIANT_1[1], VARIANT_2[2]], [VARIANT_1[0], CENTRAL[1], VARIANT_1[2]],
            [VARIANT_2[0], VARIANT_2[1], CENTRAL[2]]]
    return [result(f"e{i}", i, segments) for i, segments in enumerate(rows)]


def test_each_segment_comes_from_the_engine_the_others_agree_with_most():
    found = consensus(UNITS, three_engines_each_central_once())
    assert found is not None and found.utility == "chrF agreement (minimum Bayes risk)"
    assert [p.engine for p in found.picks] == ["e0", "e1", "e2"]
    assert found.text == " ".join(CENTRAL)


def test_judge_scores_are_the_utility_when_every_segment_was_judged():
    results = [result("a", 0, CENTRAL, [100, 80, 80]), result("b", 1, VARIANT_1, [80, 100, 80]),
               result("c", 2, VARIANT_2, [80, 80, 100])]
    found = consensus(UNITS, results)
    assert found is not None and found.utility == "judge score"
    assert [p.engine for p in found.picks] == ["a", "b", "c"] and [p.utility for p in found.picks] == [100] * 3


def test_a_source_copy_is_never_chosen_even_when_everything_agrees_with_it():
    results = [*three_engines_each_central_once(), result("copy", 3, UNITS, [100, 100, 100], "source copy")]
    found = consensus(UNITS, results)
    assert found is not None and "copy" not in [p.engine for p in found.picks] and "copy" not in found.candidates


def test_a_segment_can_be_swapped_or_edited_and_the_provenance_says_so():
    results = three_engines_each_central_once()
    found = consensus(UNITS, results)
    assert found is not None
    changed = found.with_choice(0, "e2", results).with_edit(2, "Der Vogel singt früh.")
    assert changed.text == f"{VARIANT_2[0]} {CENTRAL[1]} Der Vogel singt früh."
    data = json.loads(changed.provenance())
    assert [(s["engine"], s["edited"]) for s in data["segments"]] == [("e2", False), ("e1", False), ("edited", True)]


def test_nothing_to_choose_between_with_one_translation():
    assert consensus(UNITS, [result("only", 0, CENTRAL)]) is None


def test_the_docx_opens_in_word_readers_with_the_text():
    from docx import Document

    document = Document(io.BytesIO(to_docx("Erste Zeile & mehr\nZweite <Zeile>\x01")))
    assert [p.text for p in document.paragraphs] == ["Erste Zeile & mehr", "Zweite <Zeile>"]
