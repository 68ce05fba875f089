"""The history on both backends (SQLite and a real PostgreSQL): nothing lost, nothing leaked, nothing paid twice."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from parallax import cli
from parallax.config import load_config
from parallax.export import to_json
from parallax.results import BranchResult, BranchSpec
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review
from parallax.storage import Store, database_url
from parallax.storage.database import MIGRATIONS
from parallax.storage.history import record, retry_failed
from tests.conftest import DOCUMENT, OPENAI_KEY
from tests.fakes.provider_server import status

ROOT = Path(__file__).resolve().parent.parent
TRICKY = "'); DROP TABLE runs;-- 100% sure_thing 🎉 مرحبا بالعالم \x00end"


def run_kept(store: Store, config, engines, perspectives=("technical",), use_cache=True):  # type: ignore[no-untyped-def]
    plan = plan_review(DOCUMENT, config, perspectives, engines)
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store, use_cache)
    asyncio.run(execute(plan, outcome=outcome))
    return plan, outcome


def test_migrations_are_applied_once(db_url):
    Store(db_url)
    store = Store(db_url)  # a second open finds them applied
    with store.transaction() as conn:
        names = [r[0] for r in conn.rows("SELECT name FROM schema_migrations")]
    assert sorted(names) == sorted(name for name, _ in MIGRATIONS)  # each once


def test_migrations_are_applied_in_the_order_listed_and_only_the_new_ones(db_url, monkeypatch):
    """The list is the order: a migration builds on the ones above it, whatever its name. A database made by an
    earlier version gets only the migrations added since, each once."""
    from parallax.storage import database as storage

    listed = [("m_create", ["CREATE TABLE notes (n INTEGER)"]),
              ("z_column", ["ALTER TABLE notes ADD COLUMN m INTEGER"]),
              ("a_fill", ["INSERT INTO notes (n, m) VALUES (1, 2)"])]  # named to sort before the column it needs
    monkeypatch.setattr(storage, "MIGRATIONS", listed[:1])
    Store(db_url)  # an earlier version
    monkeypatch.setattr(storage, "MIGRATIONS", listed)
    Store(db_url)
    store = Store(db_url)
    with store.transaction() as conn:
        assert conn.rows("SELECT n, m FROM notes") == [(1, 2)]  # in order, each once
        names = {r[0] for r in conn.rows("SELECT name FROM schema_migrations")}
    assert names == {"m_create", "z_column", "a_fill"}


def test_the_default_history_is_in_parallax_home_as_it_is_when_used(monkeypatch, tmp_path):
    """PARALLAX_HOME is read when the history is opened, not when Parallax was imported: a test, a notebook or a
    server that sets it later never writes to the user's own ~/.parallax/history.db."""
    monkeypatch.delenv("PARALLAX_DATABASE_URL", raising=False)
    for home in (tmp_path / "one", tmp_path / "two"):
        monkeypatch.setenv("PARALLAX_HOME", str(home))
        assert database_url() == f"sqlite:///{home / 'history.db'}"
    monkeypatch.delenv("PARALLAX_HOME")
    assert database_url() == f"sqlite:///{Path.home() / '.parallax' / 'history.db'}"


def test_awkward_text_round_trips(db_url):
    store = Store(db_url)
    spec = BranchSpec("b1", 0, "legal", "sim:x")
    store.start_run("r1", "review", TRICKY, {"reducer": "mean"}, [spec])
    store.start_run("r2", "review", "plain text", {"reducer": "mean"}, [spec])
    store.save_branch("r1", BranchResult("b1", 0, "sim:x", "legal", text=TRICKY, error=TRICKY, score=5.0))
    loaded = store.load_run("r1")
    clean = TRICKY.replace("\x00", "")  # NUL bytes are stripped on both backends alike
    assert loaded.input_text == clean and loaded.results["b1"].text == clean and loaded.results["b1"].error == clean
    assert [r["run_id"] for r in store.list_runs(text="100%")] == ["r1"]  # % is a character, not a wildcard
    assert [r["run_id"] for r in store.list_runs(text="_thing")] == ["r1"]
    assert [r["run_id"] for r in store.list_runs(text="مرحبا")] == ["r1"]
    assert {r["run_id"] for r in store.list_runs()} == {"r1", "r2"}  # the DROP TABLE stayed text


def test_each_branch_is_kept_the_moment_it_finishes_and_a_killed_run_is_interrupted(db_url, tmp_path):
    env = {**os.environ, "PARALLAX_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    env.pop("OPENAI_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "parallax", "review", "-", "-p", "technical", "-e", "offline:rules",
         "-e", "sim:slow?latency=60"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, cwd=tmp_path)
    process.stdin.write(b"A text to keep.")
    process.stdin.close()
    store = Store(db_url)
    deadline = time.monotonic() + 30
    runs: list = []
    while time.monotonic() < deadline:  # polling the database for the finished branch
        runs = store.list_runs()
        if runs and store.load_run(runs[0]["run_id"]).results:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    run_id = runs[0]["run_id"]
    assert store.load_run(run_id).status == "running"
    assert store.mark_interrupted() == 1  # what the next start does
    kept = store.load_run(run_id)
    assert kept.status == "interrupted"
    assert list(kept.results) == ["technical@offline:rules"] and kept.results["technical@offline:rules"].status == "ok"


def test_a_running_run_of_a_live_process_is_not_marked(db_url):
    store = Store(db_url)
    store.start_run("mine", "review", "x", {}, [])
    assert store.mark_interrupted() == 0 and store.load_run("mine").status == "running"


def test_two_writers_at_once(db_url):
    stores = [Store(db_url), Store(db_url)]  # two processes' worth of connection pools
    errors: list[BaseException] = []

    def write(store: Store, run_id: str) -> None:
        try:
            store.start_run(run_id, "review", "x", {}, [])
            for i in range(40):
                store.save_branch(run_id, BranchResult(f"b{i}", i, "sim:x", "technical", score=float(i % 10)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, f"run{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [len(stores[0].load_run(f"run{i}").results) for i in range(2)] == [40, 40]


def test_retry_calls_only_the_failed_branches_and_keeps_every_attempt(db_url, fake, config):
    store = Store(db_url)
    fake.enqueue("bad", *[status(500, {"error": {"message": "down"}}, {"retry-after-ms": "5"})] * 3)
    plan, outcome = run_kept(store, config, ["openai:good", "openai:bad"])
    assert outcome.aggregate.n_ok == 1 and store.load_run(plan.run_id).status == "partial"
    calls_good, calls_bad = fake.calls("good"), fake.calls("bad")
    retried = asyncio.run(retry_failed(plan.run_id, store, config))
    assert fake.calls("good") == calls_good  # the successful branch was not called again
    assert fake.calls("bad") == calls_bad + 1
    kept = store.load_run(plan.run_id)
    assert kept.status == "completed" and retried.aggregate.n_ok == 2
    assert [a.status for a in kept.attempts["technical@openai:bad"]] == ["error", "ok"]
    assert kept.aggregate is not None and kept.aggregate.n_ok == 2


def test_an_identical_call_is_answered_from_the_cache(db_url, fake, config):
    store = Store(db_url)
    _, first = run_kept(store, config, ["openai:gpt-4o-mini"])
    assert fake.calls() == 1 and first.ordered()[0].cost_usd > 0
    _, second = run_kept(store, config, ["openai:gpt-4o-mini"])
    (again,) = second.ordered()
    assert fake.calls() == 1  # no provider call
    assert (again.cached, again.cost_usd, again.score, again.status) == (True, 0.0, 7, "ok")
    assert json.loads(to_json(second))["branches"][0]["cached"] is True
    _, third = run_kept(store, config, ["openai:gpt-4o-mini"], use_cache=False)
    assert fake.calls() == 2 and third.ordered()[0].cached is False


def test_no_key_ever_reaches_the_database(db_url, fake, config):
    store = Store(db_url)
    fake.enqueue("m", status(401, {"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}"}}))
    run_kept(store, config, ["openai:m", "openai:gpt-4o-mini"])
    with store.transaction() as conn:
        dump = "\n".join(str(value) for table in ("runs", "branches", "cache")
                         for row in conn.rows(f"SELECT * FROM {table}") for value in row)
    assert "Incorrect API key" in dump or "authentication failed" in dump  # the rows are there...
    assert OPENAI_KEY not in dump and OPENAI_KEY[:16] not in dump  # ...the key is not
    if db_url.startswith("sqlite:///"):
        raw = b"".join(p.read_bytes() for p in Path(db_url.removeprefix("sqlite:///")).parent.glob("both.db*"))
        assert OPENAI_KEY.encode() not in raw


@pytest.mark.postgres
def test_a_restarted_postgresql_server_is_reconnected_without_an_error(postgres_cluster):
    """Connections kept open between writes are dropped by a server restart: the next write opens a new one."""
    store = Store(postgres_cluster.new_database())
    spec = BranchSpec("p@offline:rules", 0, "p", "offline:rules")
    store.start_run("before", "review", "x", {"reducer": "mean"}, [spec])
    postgres_cluster.restart()
    store.save_branch("before", BranchResult(spec.branch_id, 0, "offline:rules", "p", score=7.0))
    store.start_run("after", "review", "y", {"reducer": "mean"}, [spec])
    assert store.load_run("before").results[spec.branch_id].score == 7.0
    assert {r["run_id"] for r in store.list_runs()} == {"before", "after"}


def test_database_down_shows_results_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("PARALLAX_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["review", "-", "-p", "legal"], stdin=_stdin(b"We guarantee it."), out=out, err=err)
    assert code == 0
    assert "aggregate (mean)" in out.getvalue()  # the results are shown...
    assert "results are shown but not saved" in err.getvalue()  # ...with a warning, no traceback
    assert "Traceback" not in err.getvalue()


def test_history_command_line(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out, err = io.StringIO(), io.StringIO()
    cli.main(["review", "-", "-e", "offline:rules", "-e", "sim:f?latency=0&fail=error", "-p", "legal"],
             stdin=_stdin(b"We guarantee it."), out=out, err=err)
    run_id = err.getvalue().split()[1].rstrip(":")
    calls = []
    for args in (["history", "list", "--json", "l.json"], ["history", "show", run_id, "--json", "s.json"],
                 ["history", "export", run_id, "--csv", "e.csv"], ["history", "retry", run_id],
                 ["history", "delete", run_id], ["history", "show", run_id]):
        out, err = io.StringIO(), io.StringIO()
        calls.append((cli.main(args, out=out, err=err), out.getvalue(), err.getvalue()))
    assert json.loads((tmp_path / "l.json").read_text())[0]["run_id"] == run_id
    assert json.loads((tmp_path / "s.json").read_text())["run_id"] == run_id
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "e.csv").read_text())))) == 2
    assert [c[0] for c in calls] == [0, 0, 0, 0, 0, 2]
    assert f"deleted {run_id}" in calls[4][1] and "no run" in calls[5][2]


def _stdin(data: bytes):  # type: ignore[no-untyped-def]
    from tests.test_cli import Stdin

    return Stdin(data)


def test_a_translation_reopens_with_its_agreement_matrix(db_url, monkeypatch):
    from parallax.run.plan import plan_translate
    from parallax.storage.history import outcome_from_record
    from parallax.translate.request import TranslationSettings

    store = Store(db_url)
    plan = plan_translate("The dog runs fast.", load_config(env={}), TranslationSettings("en", "de"),
                          ["offline:pseudo", "sim:a?latency=0&tokens=3&rate=500", "sim:b?latency=0&tokens=3&rate=500"])
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store)
    asyncio.run(execute(plan, outcome=outcome))
    import parallax.translate.assess as assess_module

    monkeypatch.setattr(assess_module, "agreement_matrix", lambda texts: pytest.fail("recomputed on reopening"))
    reopened = outcome_from_record(store.load_run(plan.run_id))
    assert reopened.assessment.matrix == outcome.assessment.matrix != {}
    assert reopened.results[plan.branches[1].branch_id].agreement == outcome.ordered()[1].agreement


def test_a_score_floor_is_applied_before_the_limit(db_url):
    """With a floor and a limit, the newest runs that pass the floor: before, the limit took the newest runs and
    the floor then dropped them, so 'at least 5, newest 1' found nothing while a run scored 9 was there."""
    from parallax.results import Aggregate

    store = Store(db_url)
    for run_id, mode, score in [("old9", "review", 9.0), ("mid3", "review", 3.0), ("t80", "translate", 80.0),
                                ("new2", "review", 2.0)]:
        store.start_run(run_id, mode, "x", {}, [])
        store.finish_run(run_id, Aggregate("mean", score, 1, 1, 0.0, "mean"), 1.0, [])
        time.sleep(0.002)  # created_at has milliseconds: distinct, in this order
    assert [r["run_id"] for r in store.list_runs(min_review_score=5, limit=1)] == ["old9"]
    assert [r["run_id"] for r in store.list_runs(min_translation_score=50, limit=1)] == ["t80"]
    assert [r["run_id"] for r in store.list_runs(min_review_score=2.5)] == ["mid3", "old9"]
