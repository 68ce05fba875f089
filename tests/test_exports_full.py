"""Exports that carry everything: CSV, JSON and XLSX round trips, what was sent and what came back, no key."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random

import pandas as pd

from parallax import __version__
from parallax.export import CSV_COLUMNS, csv_columns, to_csv, to_json, to_xlsx
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review, plan_translate
from parallax.storage import Store
from parallax.storage.history import outcome_from_record, record
from parallax.translate.request import TranslationSettings
from tests.conftest import OPENAI_KEY
from tests.fakes.judges import position_biased
from tests.fakes.provider_server import DEFAULT_JUDGEMENT, ok

DOCUMENT = "Release notes: uploads are faster. Contact jane@example.com."


def reviewed(fake, config) -> RunOutcome:  # type: ignore[no-untyped-def]
    fake.enqueue("m", ok("not JSON at all"), ok(json.dumps({**DEFAULT_JUDGEMENT, "strengths": ["clear", "short"],
                                                              "confidence": 0.7})))
    plan = plan_review(DOCUMENT, config, ["legal"], ["openai:m"])
    return asyncio.run(execute(plan, outcome=RunOutcome.for_plan(plan)))


def test_a_branch_keeps_what_it_was_sent_and_its_raw_reply_without_any_key(fake, config):
    outcome = reviewed(fake, config)
    (r,) = outcome.ordered()
    sent = r.exchange
    assert sent is not None and sent["engine"] == "openai:m" and sent["schema_name"] == "judgement"
    assert f"<document>\n{DOCUMENT}\n</document>" in sent["messages"][0]["content"]  # the document, delimited
    assert sent["reask"]["first_reply"] == "not JSON at all" and "not valid JSON" in sent["reask"]["reason"]
    assert r.text.startswith("{") and r.structured_mode == "json_schema"  # the raw reply is the text
    everything = to_json(outcome) + to_csv(outcome)
    assert OPENAI_KEY not in everything and OPENAI_KEY not in json.dumps(sent)


def test_csv_has_readable_columns_and_never_the_raw_judgement(fake, config):
    outcome = reviewed(fake, config)
    rows = list(csv.DictReader(io.StringIO(to_csv(outcome))))
    assert tuple(rows[0]) == CSV_COLUMNS
    row = rows[0]
    assert "text" not in row  # the raw JSON judgement stays in the JSON export
    assert (row["summary"], row["issues_count"], row["strengths"], row["confidence"], row["cached"],
            row["structured_mode"]) == ("Fake provider review.", "1", "clear; short", "0.7", "False", "json_schema")
    assert row["issues"] == "[minor] fake note — “text”"


def test_json_is_enough_to_reproduce_and_audit_the_run(fake, config):
    outcome = reviewed(fake, config)
    data = json.loads(to_json(outcome))
    assert data["parallax_version"] == __version__ and data["created_at"]
    assert data["input"] == {"text": DOCUMENT, "characters": len(DOCUMENT)}
    assert data["settings"]["reducer"] == "mean" and data["settings"]["samples"] == 1
    assert data["settings"]["perspectives"]["legal"]["rubric"]
    assert data["branches"][0]["exchange"]["messages"][0]["role"] == "user"
    hidden = to_json(outcome, include_text=False)
    assert set(json.loads(hidden)["input"]) == {"sha256", "characters"}
    assert DOCUMENT not in hidden and "⟨the input text: 60 characters, sha256" in hidden  # prompts included


def test_xlsx_has_one_sheet_per_view_with_every_column(fake, config):
    outcome = reviewed(fake, config)
    sheets = pd.read_excel(io.BytesIO(to_xlsx(outcome)), sheet_name=None)
    assert list(sheets) == ["branches", "aggregate", "issues"]
    assert tuple(sheets["branches"].columns) == CSV_COLUMNS
    assert sheets["branches"]["summary"][0] == "Fake provider review."
    assert sheets["aggregate"]["method"][0] == "mean" and sheets["aggregate"]["score"][0] == 7
    assert list(sheets["issues"]["note"]) == ["fake note"]


def test_a_formula_in_a_reply_stays_text_in_the_workbook(fake, config):
    fake.enqueue("m", ok(json.dumps({**DEFAULT_JUDGEMENT, "summary": "=HYPERLINK(\"http://evil\")"})))
    plan = plan_review(DOCUMENT, config, ["legal"], ["openai:m"])
    outcome = asyncio.run(execute(plan))
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(to_xlsx(outcome)))["branches"]
    summary = [c.value for c in sheet[2]][list(CSV_COLUMNS).index("summary")]
    assert summary == "'=HYPERLINK(\"http://evil\")"


def test_translations_export_the_judges_prompts_replies_and_cost_and_keep_them_in_history(fake, config, db_url):
    fake.answer = position_biased("judge", random.Random(2))
    fake.enqueue("a", ok("Versionshinweise: Uploads sind schneller."))
    fake.enqueue("b", ok("Versionshinweise: Hochladen ist schneller."))
    plan = plan_translate(DOCUMENT, config, TranslationSettings("en", "de", judge="openai:judge", judge_samples=2,
                                                                judge_protocol="compare"), ["openai:a", "openai:b"])
    store = Store(db_url)
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store)
    asyncio.run(execute(plan, outcome=outcome))
    data = json.loads(to_json(outcome))
    assert len(data["judge_samples"]) == 2
    first = data["judge_samples"][0]
    assert first["raw"].startswith('{"translations"') and set(first["positions"]) == {"openai:a", "openai:b"}
    prompt = first["exchange"]["messages"][-1]["content"]
    assert '<translation label="A">' in prompt and "openai:a" not in prompt  # neutral labels only
    rows = list(csv.DictReader(io.StringIO(to_csv(outcome))))
    assert tuple(rows[0]) == csv_columns("translate") and rows[0]["text"].startswith("Versionshinweise")
    assert "judge_cost_usd" in rows[0]
    reopened = outcome_from_record(store.load_run(plan.run_id))
    assert [s.raw for s in reopened.assessment.judge_samples] == [s.raw for s in outcome.assessment.judge_samples]
    assert reopened.ordered()[0].exchange == outcome.ordered()[0].exchange
