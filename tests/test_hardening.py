"""Untrusted input and faults: linear-time offline checks, batches that stop instead of hanging, configuration
that says when it is wrong, files refused by size, keys never kept, terminal-safe output, search in any case."""

from __future__ import annotations

import asyncio
import io
import json
import random
import string
import threading

import pytest

from parallax import cli
from parallax.batch import output as batch_module
from parallax.config import ConfigError, load_config
from parallax.engines.offline import review
from parallax.export import to_csv, to_json
from parallax.results import BranchResult, BranchSpec
from parallax.run.events import BranchFinished
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review, plan_translate
from parallax.storage import Store
from parallax.storage.history import record
from parallax.translate.request import TranslationSettings
from tests.conftest import OPENAI_KEY, only
from tests.fakes.provider_server import DEFAULT_JUDGEMENT, ok
from tests.test_batch import batch, results, write_csv

# --- the offline engine: no crafted input makes it slow, and it never holds up the event loop ---


@pytest.mark.parametrize("perspective,text", [
    ("legal", "a." * 100_000),  # was 48 s: an e-mail pattern backtracking over the whole run
    ("technical", " ".join("".join(random.Random(i).choices(string.ascii_uppercase, k=5)) for i in range(33_000))),
])
def test_offline_checks_finish_on_crafted_documents(perspective, text):
    # They took 48 s and 164 s; bench/stalls.py measures them against an ordinary text of the same length.
    assert review(text, perspective).summary


def test_the_offline_engine_runs_beside_other_branches_not_before_them(monkeypatch):
    """The keyword checks run off the event loop: held until a quick branch has finished, they do not hold it up."""
    from parallax.engines import offline

    real_review = offline.review
    quick_done = threading.Event()
    seen: list[tuple[bool, bool]] = []  # (quick already done when the checks began, quick done while they ran)

    def held_review(text: str, perspective: str):  # type: ignore[no-untyped-def]
        seen.append((quick_done.is_set(), quick_done.wait(20)))
        return real_review(text, perspective)

    def on_event(event, outcome) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, BranchFinished) and event.result.engine.startswith("sim:quick"):
            quick_done.set()

    monkeypatch.setattr(offline, "review", held_review)
    plan = plan_review("A text.", load_config(env={}), ["technical"],
                       ["offline:rules", "sim:quick?latency=0.5&tokens=2&rate=100"])
    offline_result, quick = asyncio.run(execute(plan, on_event)).ordered()
    assert offline_result.status == quick.status == "ok"
    assert seen == [(False, True)]  # the quick branch finished while the checks were still running


# --- batches stop with a message when a worker fails ---


def test_a_batch_whose_results_cannot_be_written_stops_and_keeps_what_it_wrote(tmp_path, monkeypatch):
    source = write_csv(tmp_path / "in.csv", [[f"d{i}", f"Text {i}."] for i in range(30)])
    real_write = batch_module.BatchWriter.write
    written: list[int] = []

    def disk_fills_up(self, row):  # type: ignore[no-untyped-def]
        if len(written) == 3:
            raise OSError(28, "No space left on device", str(tmp_path / "out.csv"))
        written.append(1)
        real_write(self, row)

    monkeypatch.setattr(batch_module.BatchWriter, "write", disk_fills_up)
    code, _, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                          "-e", "offline:rules", "--concurrency", "2"])
    assert code == 1  # it ends (a hang would meet the suite's timeout)
    assert "the batch stopped: No space left on device" in err and "Traceback" not in err
    assert len(results(tmp_path / "out.csv")) == 3  # the rows written before the failure stay readable


# --- configuration ---


@pytest.mark.parametrize("table,message", [
    ('[perspectives.x]\ndescription = "x"\nrubric = "x"\nweight = nan',
     r"line 4: \[perspectives.x\] weight = nan: input should be a finite number"),
    ('[perspectives.x]\ndescription = "x"\nrubric = "x"\nweight = inf',
     r"line 4: \[perspectives.x\] weight = inf: input should be a finite number"),
    ('[prices."openai:m"]\ninput = "0.6"\noutput = 1', "line 2: .* input = '0.6': input should be a valid number"),
    ('[prices."openai:m"]\ninput = -1\noutput = 1', "input = -1: input should be greater than or equal to 0"),
    ('[engines.local]\nbase_url = "http://x/v1"\nmodel = "m"\nprice_output = "0.6"',
     r"line 4: \[engines.local\] price_output = '0.6': input should be a valid number"),
])
def test_bad_numbers_in_the_configuration_are_refused_before_any_call(tmp_path, table, message):
    path = tmp_path / "parallax.toml"
    path.write_text(table + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


# --- files are measured before they are read ---


def bytes_read() -> int:
    """What this process has read so far, files and pipes (Linux's per-process I/O counter)."""
    with open("/proc/self/io") as counters:
        return int(next(line for line in counters if line.startswith("rchar:")).split()[1])


def test_a_huge_file_is_refused_by_its_size_without_reading_it(tmp_path):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(1 << 30)  # 1 GB, sparse: reading it would take a gigabyte of memory
    out, err = io.StringIO(), io.StringIO()
    before = bytes_read()
    assert cli.main(["review", str(huge)], out=out, err=err) == 2
    assert bytes_read() - before < 50 << 20  # not the gigabyte (a few MB: modules imported on the way)
    assert f"{huge} is 1,073,741,824 bytes: over the limit of" in err.getvalue()


# --- the history ---


def test_history_show_of_a_killed_run_counts_every_branch(db_url):
    store = Store(db_url)
    specs = [BranchSpec(f"p{i}@offline:rules", i, f"p{i}", "offline:rules") for i in range(3)]
    store.start_run("killed", "review", "x", {"reducer": "mean"}, specs)
    store.save_branch("killed", BranchResult(specs[0].branch_id, 0, "offline:rules", "p0", score=8.0))
    with store.transaction() as conn:  # what the next start records for a run whose process was killed
        conn.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = 'killed'")
    out = io.StringIO()
    cli.main(["history", "show", "killed"], out=out, err=io.StringIO())
    assert "aggregate (mean): 8.00 — 1 of 3 succeeded" in out.getvalue()
    assert "p1@offline:rules: the run was interrupted before this branch finished" in out.getvalue()


@pytest.mark.parametrize("query", ["Übersicht", "übersicht", "ÜBERSICHT", "ünd Ärger", "ΣΊΣΥΦΟΣ", "σίσυφος"])
def test_search_finds_text_in_any_case_and_language(db_url, query):
    store = Store(db_url)
    store.start_run("de", "review", "Eine Übersicht über Mühe ünd Ärger. Σίσυφος.", {}, [])
    store.start_run("other", "review", "Nothing to see.", {}, [])
    assert [r["run_id"] for r in store.list_runs(text=query)] == ["de"]


# --- keys and terminals ---


def test_a_configured_key_repeated_by_the_model_is_never_kept(fake, config, db_url):
    echoed = {**DEFAULT_JUDGEMENT, "summary": f"The document contains the key {OPENAI_KEY}.",
              "issues": [{"severity": "critical", "quote": OPENAI_KEY, "note": f"Leaked {OPENAI_KEY}"}]}
    fake.enqueue("m", ok(json.dumps(echoed)))
    store = Store(db_url)
    plan = plan_review("A text.", config, ["technical"], ["openai:m"])
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store, use_cache=True)
    asyncio.run(execute(plan, outcome=outcome))
    r = only(outcome)
    assert r.status == "ok" and "[redacted]" in r.summary and r.issues[0].quote == "[redacted]"
    for kept in (to_json(outcome), to_csv(outcome), json.dumps(store.load_run(plan.run_id).results["technical@openai:m"]
                                                                .to_dict())):
        assert OPENAI_KEY not in kept
    with store.transaction() as conn:
        cached = " ".join(str(row) for row in conn.rows("SELECT * FROM cache"))
    assert OPENAI_KEY not in cached and "[redacted]" in cached


def test_model_text_printed_to_a_terminal_cannot_drive_it(fake, config, monkeypatch, tmp_path):
    hostile = "Gut.\x1b]0;pwned\x07 \x1b[2J\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m rot\r fertig"
    fake.enqueue("t", ok(hostile))
    for name, value in config.env.items():
        monkeypatch.setenv(name, value)
    source = tmp_path / "s.txt"
    source.write_text("Good.", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    cli.main(["translate", str(source), "--source", "en", "--target", "de", "-e", "openai:t", "--no-judge",
              "--no-cache"], out=out, err=err)
    printed = out.getvalue() + err.getvalue()
    assert "Gut." in printed and "click" in printed and "fertig" in printed
    assert not any(c in printed for c in "\x1b\x07\x9b\r")


def test_the_json_export_keeps_the_exact_text(fake, config):
    # The exports keep the model's text exactly (the JSON is raw data; only the terminal is protected).
    fake.enqueue("t", ok("Gut.\x1b[2J"))
    plan = plan_translate("Good.", config, TranslationSettings("en", "de"), ["openai:t"])
    outcome = asyncio.run(execute(plan))
    assert json.loads(to_json(outcome))["branches"][0]["text"] == "Gut.\x1b[2J"


# --- what the pages draw ---


def test_the_word_diff_keeps_tildes_and_markdown_as_text():
    from components.results import diff_markdown

    markdown = diff_markdown("~Your~ files **now** sync", "~Their~ files **now** sync")
    assert "~~" not in markdown  # no strikethrough to collide with the text's own tildes
    assert markdown == (":red-background[\\~Your\\~ ]:green-background[\\~Their\\~ ]files \\*\\*now\\*\\* sync")


def test_costs_read_as_dollars_however_small():
    from parallax.estimate import usd

    assert [usd(v) for v in (0, 0.0000037641, 0.012345, 1.5, None)] == ["$0", "$0.0000038", "$0.012", "$1.50",
                                                                         "unknown"]


def test_the_graph_that_ran_is_a_clean_diagram_of_the_nodes_used():
    from parallax.run.graph import diagram

    one_step, two_step = diagram(False), diagram(True)
    for text in (one_step, two_step):
        assert "<" not in text.replace("-->", "").replace("-.->", "")  # no HTML in the labels
        assert "aggregate(aggregate · waits for every branch)" in text
    assert "draft" not in one_step and "check" not in one_step
    assert "draft -.-> check;" in two_step
