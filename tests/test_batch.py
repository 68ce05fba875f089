"""Batches over CSV and JSONL: one aggregate per document, bad rows named and never called, resume, limits."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from parallax import cli, limits
from parallax.batch.rows import BatchError, count_rows, read_rows
from parallax.batch.run import run_batch
from parallax.config import load_config
from parallax.limits import RateLimiter
from parallax.run.plan import plan_review
from tests.fakes.provider_server import ok
from tests.test_cli import Stdin


def write_csv(path: Path, rows: list[list[str]], header: tuple[str, ...] = ("id", "text")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def results(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def batch(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["batch", *args], stdin=Stdin(b""), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_review_batch_keeps_ids_names_bad_rows_and_calls_nothing_for_them(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-batch-0123456789abcdefghij")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    source = write_csv(tmp_path / "in.csv", [["a1", "First text."], ["a2", ""], ["a3", "x" * 300_001],
                                             ["a4", "Fourth text."]])
    code, out, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                            "-e", "openai:gpt-4o-mini", "--json", str(tmp_path / "s.json"), "--no-cache"])
    assert code == 0
    rows = {r["id"]: r for r in results(tmp_path / "out.csv")}
    assert set(rows) == {"a1", "a2", "a3", "a4"}
    assert rows["a1"]["status"] == "ok" and float(rows["a1"]["aggregate_score"]) == 7
    branch = "legal@openai:gpt-4o-mini"  # each branch's score, its review's summary and issue count
    assert (rows["a1"][f"score:{branch}"], rows["a1"][f"summary:{branch}"], rows["a1"][f"issues:{branch}"]) == (
        "7.0", "Fake provider review.", "1")
    assert rows["a2"]["error"] == "row 2: the 'text' cell is empty" and rows["a2"]["status"] == "invalid"
    assert rows["a3"]["error"] == "row 3: 300,001 characters, over the limit of 200,000"
    assert fake.calls() == 2  # only the two good documents were sent
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["failed_or_invalid"] == 2 and summary["done"] == 4
    assert "[4/4]" in err and "ETA" in err and "cost so far" in err


def test_an_interrupted_batch_resumes_without_redoing_finished_rows(tmp_path):
    source = write_csv(tmp_path / "in.csv", [[f"d{i}", f"Text {i}."] for i in range(6)])
    out = tmp_path / "out.csv"
    with out.open("w", newline="") as handle:  # what an interrupted run left: a header and two documents
        handle.write(open(source).readline().replace("id,text", "id,row,status"))
    first = plan_review("(batch)", load_config(env={}), ["legal"], ["offline:rules"])
    rows = [r for r in read_rows(source, "text") if r.doc_id in ("d0", "d1")]
    asyncio.run(run_batch(first, iter(rows), out, 2))
    code, printed, _ = batch([str(source), "--column", "text", "--out", str(out), "-p", "legal", "-e", "offline:rules"])
    assert code == 0 and "(2 from an earlier run)" in printed
    assert sorted(r["id"] for r in results(out)) == [f"d{i}" for i in range(6)]  # each exactly once


def test_jsonl_input_and_per_row_errors(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "j1", "body": "Fine."}\nnot json\n{"id": "j3"}\n{"id": "j4", "body": "Also fine."}\n')
    code, _, _ = batch([str(source), "--column", "body", "--out", str(tmp_path / "o.csv"), "-p", "legal",
                        "-e", "offline:rules"])
    rows = {r["id"]: r for r in results(tmp_path / "o.csv")}
    assert code == 0 and rows["j1"]["status"] == rows["j4"]["status"] == "ok"
    assert rows["2"]["error"].startswith("row 2: not valid JSON")
    assert rows["3"]["error"] == "row 3: no 'body' or 'path' field"


def test_undecodable_bytes_name_the_row(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b"id,text\nx1,caf\xe9 au lait\nx2,fine\n")
    batch([str(source), "--column", "text", "--out", str(tmp_path / "o.csv"), "-p", "legal", "-e", "offline:rules"])
    rows = {r["id"]: r for r in results(tmp_path / "o.csv")}
    assert rows["x1"]["error"] == ("row 1: bytes that are not UTF-8 on line 2 (Latin-1 or Windows-1252? save the "
                                   "file as UTF-8)")
    assert rows["x2"]["status"] == "ok"


@pytest.mark.parametrize("content,args,message", [
    ("id,text\nx,hello\n", ["--column", "body"], "has no column 'body' (the text) or 'path' (a document file); "
                                    "its columns are: id, text"),
    ("", ["--column", "text"], "is empty"),
    ("id,text\n", ["--column", "text"], "has no rows"),
    ("id,text\nx,hello\n", ["--column", "text", "--rpm", "openai"], "--rpm 'openai': write PROVIDER=N"),
    ("id,text\nx,hello\n", ["--column", "text", "--mode", "translate"], "needs --source and --target"),
])
def test_a_batch_that_cannot_start_says_why(tmp_path, content, args, message):
    source = tmp_path / "in.csv"
    source.write_text(content)
    code, _, err = batch([str(source), "--out", str(tmp_path / "o.csv"), *args])
    assert code == 2 and message in err
    assert not (tmp_path / "o.csv").exists()


def test_concurrency_bound_is_respected(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-batch-0123456789abcdefghij")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    source = write_csv(tmp_path / "in.csv", [[f"d{i}", f"Text number {i}."] for i in range(12)])
    for _ in range(12):
        fake.enqueue("gpt-4o-mini", ok(chunks=3, delay=0.05))
    code, _, _ = batch([str(source), "--column", "text", "--out", str(tmp_path / "o.csv"), "-p", "legal",
                        "-e", "openai:gpt-4o-mini", "--concurrency", "3", "--no-cache"])
    assert code == 0 and fake.calls() == 12 and fake.max_active == 3


def test_rate_limiter_spaces_calls(monkeypatch):
    """600 calls a minute: the first goes at once, each next one 0.1 s after the one before — on a clock of the
    test's own, which moves only when the limiter sleeps (bench/stalls.py measures the spacing on the real one)."""
    clock = [1000.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(limits, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(limits, "asyncio", SimpleNamespace(Lock=asyncio.Lock, sleep=sleep))

    async def five() -> list[float]:
        limiter = RateLimiter(rpm=600)
        starts = []
        for _ in range(5):
            await limiter.wait()
            starts.append(clock[0] - 1000.0)
        return starts

    assert asyncio.run(five()) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_translate_batch_gives_the_best_engine_per_document(tmp_path):
    source = write_csv(tmp_path / "in.csv", [["t1", "The dog runs."], ["t2", "The cat sleeps."]])
    code, _, err = batch([str(source), "--column", "text", "--mode", "translate", "--source", "en", "--target", "de",
                          "-e", "offline:pseudo", "-e", "sim:a?latency=0&tokens=3&rate=500",
                          "--judge", "sim:j?latency=0&tokens=2&rate=500", "--out", str(tmp_path / "o.csv")])
    assert code == 0, err
    rows = results(tmp_path / "o.csv")
    assert [r["best"] for r in rows] == ["sim:a?latency=0&tokens=3&rate=500"] * 2  # the judge marks pseudo down
    assert count_rows(source) == 2
    sim = "sim:a?latency=0&tokens=3&rate=500"  # a translation branch is named by its engine
    by_id = {r["id"]: r for r in rows}
    assert by_id["t1"][f"text:{sim}"].startswith("[simulated de] Eht god")  # the translations themselves
    assert by_id["t1"]["text:offline:pseudo"].startswith("[!! Ţĥé")
    assert by_id["t1"]["non_translation:offline:pseudo"] == "pseudo-localisation"
    assert by_id["t1"][f"non_translation:{sim}"] == "" and float(by_id["t1"][f"score:{sim}"]) > 0
    from parallax.batch.output import document_branches

    branches = document_branches(tmp_path / "o.csv", "t2")  # one document, opened with all its branches
    assert branches is not None and {r.engine for r in branches} == {"offline:pseudo", sim}


def test_missing_column_is_an_error_before_anything_runs(tmp_path):
    with pytest.raises(BatchError, match="no column 'body'"):
        read_rows(write_csv(tmp_path / "in.csv", [["x", "y"]]), "body")
