"""The form inputs of a stored run (parallax.run.inputs): read back so that the page's key of them is the run's."""

from __future__ import annotations

import os

import pytest

from parallax.config import load_config
from parallax.perspectives import parse_custom
from parallax.run.execute import RunOutcome
from parallax.run.inputs import glossary_text, run_inputs
from parallax.run.plan import plan_key, plan_review, plan_translate
from parallax.storage import open_store
from parallax.storage.history import record
from parallax.translate.request import TranslationSettings, parse_glossary


def stored(plan):  # type: ignore[no-untyped-def]
    store = open_store(os.environ["PARALLAX_DATABASE_URL"])
    record(plan, RunOutcome.for_plan(plan), store)
    return store.load_run(plan.run_id)


def test_a_review_runs_inputs_give_back_its_key_even_where_its_perspective_is_unknown():
    config = load_config(env={})
    config.perspectives.update(parse_custom({"tone": {"description": "voice", "rubric": "- Friendly", "weight": 2}}))
    plan = plan_review("A text to review, long enough.", config, ["tone", "legal"], ["offline:rules", "sim:x"],
                       concurrency=2, timeout_s=30, samples=3)
    inputs = run_inputs(stored(plan), load_config(env={}))  # a configuration without "tone"
    assert (inputs.perspectives, inputs.engines) == (["tone", "legal"], ["offline:rules", "sim:x"])
    assert (inputs.samples, inputs.timeout_s, inputs.concurrency) == (3, 30, 2)
    assert inputs.snapshots["tone"].weight == 2
    assert inputs.key == plan_key(plan)


def test_a_translate_runs_inputs_give_back_its_settings_and_key():
    settings = TranslationSettings("en", "fr", (("folder", "dossier"),), "formal", "Bonjour.", "sim:judge", 2,
                                   "compare")
    plan = plan_translate("Hello.", load_config(env={}), settings, ["offline:pseudo", "sim:alpha"])
    inputs = run_inputs(stored(plan), load_config(env={}))
    assert inputs.translation == plan.settings and inputs.engines == ["offline:pseudo", "sim:alpha"]
    assert inputs.key == plan_key(plan)


@pytest.mark.parametrize("glossary", [
    (("folder", "dossier"),),
    (("share, please", "partager"), ('say "hi"', "dire « salut »"), ("a=b", "c")),
    (("tab", "x\ty"), ("term", "a,b")),
])
def test_a_glossary_as_text_reads_back_to_the_same_pairs(glossary):
    assert parse_glossary(glossary_text(glossary)) == glossary
