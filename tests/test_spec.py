"""One run spec: a run and a provider batch keep what they ran (branches, settings, the perspectives as they
were); what the configuration says later does not change what a stored run or batch means."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from parallax import cli
from parallax.config import load_config
from parallax.perspectives import Perspective
from parallax.run.plan import plan_review
from parallax.run.spec import RunSpec, bind, spec_of
from parallax.translate.request import TranslationSettings
from tests.fakes.provider_server import status
from tests.test_batch import results, write_csv
from tests.test_cli import Stdin

ROOT = Path(__file__).resolve().parent.parent
KEY = "fake-key-spec-0123456789abcdefghijklm"


def _keys(fake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)


def test_a_spec_survives_json_and_binds_to_the_same_plan():
    config = load_config(None)
    config.perspectives["tone"] = Perspective("tone", "Tone of voice", "- Friendly, never curt.", 2.0, two_step=True)
    plan = plan_review("Some text.", config, ["tone", "legal"], ["sim:a", "sim:b"], "weighted", 4, 30.0, samples=2)
    stored = json.loads(json.dumps(spec_of(plan).to_dict()))
    spec = RunSpec.from_dict(stored)
    assert spec == spec_of(plan)
    bound = bind(spec, "Some text.", load_config(None))  # a configuration without the 'tone' perspective
    assert [b.branch_id for b in bound.branches] == [b.branch_id for b in plan.branches]
    assert bound.config.perspectives["tone"].rubric == "- Friendly, never curt." and bound.samples == 2
    translation = RunSpec("translate", spec.branches[:1], translation=TranslationSettings(
        "en", "de", (("invoice", "Rechnung"),), judge=None))
    assert RunSpec.from_dict(json.loads(json.dumps(translation.to_dict()))) == translation


def test_a_rubric_edited_after_a_run_does_not_change_its_retry(fake, tmp_path, monkeypatch):
    _keys(fake, monkeypatch)
    toml = tmp_path / "parallax.toml"
    toml.write_text('[perspectives.careful]\ndescription = "contracts"\nrubric = "- Rubric as first written."\n')
    (tmp_path / "doc.txt").write_text("The supplier may end the contract at any time.", encoding="utf-8")
    fake.enqueue("gpt-4o-mini", *[status(500, {"error": {"message": "down"}}, {"retry-after-ms": "5"})] * 3)
    out, err = io.StringIO(), io.StringIO()
    cli.main(["review", str(tmp_path / "doc.txt"), "-p", "careful", "-e", "openai:gpt-4o-mini", "--config", str(toml),
              "--no-cache", "--json", str(tmp_path / "run.json")], stdin=Stdin(b""), out=out, err=err)
    run_id = json.loads((tmp_path / "run.json").read_text())["run_id"]
    toml.write_text('[perspectives.careful]\ndescription = "contracts"\nrubric = "- A rubric edited since."\n')
    fake.requests.clear()
    code = cli.main(["history", "retry", run_id, "--config", str(toml)], stdin=Stdin(b""), out=out, err=err)
    assert code == 0, err.getvalue()
    (sent,) = [json.dumps(r["body"]) for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert "Rubric as first written" in sent and "edited since" not in sent


def test_a_provider_batch_with_a_page_only_perspective_is_collected_by_a_new_process(fake, tmp_path, monkeypatch):
    from parallax.batch.output import BatchOutput
    from parallax.batch.provider import submit
    from parallax.batch.rows import read_rows
    from parallax.storage import open_store

    _keys(fake, monkeypatch)
    fake.batches.polls = 0
    config = load_config(None)
    config.perspectives["page-only"] = Perspective("page-only", "added on the page", "- A rubric from the page.")
    plan = plan_review("(each document)", config, ["page-only"], ["openai:gpt-4o-mini"])
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."], ["d2", "Second text."]])
    out = tmp_path / "out.csv"
    options = {"mode": "review", "input": str(source), "column": "text", "id_column": None, "out": str(out),
               "concurrency": 8, "config": None, "no_cache": True, "skip_failed": False}  # what the page keeps
    output = BatchOutput(plan, out, 2)
    try:
        asyncio.run(submit(plan, output.to_run(read_rows(source, "text")), open_store(), out, options))
    finally:
        output.close()
    done = subprocess.run([sys.executable, "-m", "parallax", "batch", "--resume", "--poll", "0.01"],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # before: "unknown perspective 'page-only'", nothing collected
    assert [r["status"] for r in results(out)] == ["ok", "ok"]


def test_a_provider_batch_keeps_a_document_whose_answers_are_all_in_the_cache(fake, tmp_path, monkeypatch):
    """Planning the batch's requests must not lose a document whose calls the cache already answers: it is sent
    nothing and still collected (before: it vanished from the job, and from the results file)."""
    _keys(fake, monkeypatch)
    fake.batches.polls = 0
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."]])
    out = tmp_path / "out.csv"
    first = ["--column", "text", "-p", "legal", "-e", "openai:gpt-4o-mini"]
    from tests.test_batch import batch

    assert batch([str(source), *first, "--out", str(tmp_path / "direct.csv")])[0] == 0  # d1's answer now cached
    both = write_csv(tmp_path / "both.csv", [["d1", "First text."], ["d2", "Second text."]])
    code, _, err = batch([str(both), *first, "--out", str(out), "--provider-batch", "--poll", "0.01"])
    assert code == 0, err
    assert sorted((r["id"], r["status"]) for r in results(out)) == [("d1", "ok"), ("d2", "ok")]
    assert [len(fake.batches.batches[b].requests) for b in fake.batches.created] == [1]  # only d2 was sent
