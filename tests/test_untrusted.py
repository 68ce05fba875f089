"""Untrusted documents and batch files: a batch file cannot make Parallax read, send or write a file it should not;
a hostile document is refused within its limits, in a confined child, named, and costs nothing; a bad row is
that row's error and the batch goes on."""

from __future__ import annotations

import asyncio
import io
import json
import os
import resource
import time
from pathlib import Path

import pytest

from parallax import cli
from parallax.documents import InputError, read_document
from parallax.documents.confine import run_confined
from tests.fakes import bombs
from tests.fakes import documents as make
from tests.test_batch import batch, results, write_csv
from tests.test_cli import Stdin

SECRET = "root:x:0:0:secret-line-of-a-system-file"


def _review(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["review", str(path), "-p", "legal", "-e", "sim:x?latency=0"], stdin=Stdin(b""), out=out, err=err)
    return code, err.getvalue()


# ---- the batch `path` column ----

@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the batch's folder, and the batch's folder beside it."""
    (tmp_path / "secret").mkdir()
    secret = tmp_path / "secret" / "passwd"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "batch").mkdir()
    return secret


def test_path_cells_cannot_name_a_file_outside_the_batch_folder(tmp_path, outside, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-untrusted-0123456789abcdefgh")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    folder = tmp_path / "batch"
    (folder / "link.txt").symlink_to(outside)  # a link inside the folder to a file outside it
    (folder / "ok.txt").write_text("A fair contract between two parties.", encoding="utf-8")
    os.mkfifo(folder / "fifo.txt")  # would block a plain open() forever
    source = write_csv(folder / "in.csv", [["abs", "", str(outside)], ["up", "", "../secret/passwd"],
                                           ["link", "", "link.txt"], ["proc", "", "/proc/self/status"],
                                           ["zero", "", "/dev/zero"], ["fifo", "", "fifo.txt"], ["ok", "", "ok.txt"]],
                       header=("id", "text", "path"))
    out = folder / "out.csv"
    code, _, err = batch([str(source), "--column", "text", "--out", str(out), "-p", "legal", "-e",
                          "openai:gpt-4o-mini", "--no-cache"])
    assert code == 0, err
    rows = {r["id"]: r for r in results(out)}
    assert {k: r["status"] for k, r in rows.items()} == {"abs": "invalid", "up": "invalid", "link": "invalid",
                                                          "proc": "invalid", "zero": "invalid", "fifo": "invalid",
                                                          "ok": "ok"}
    for name in ("abs", "up", "link", "proc", "zero"):
        assert f"is outside {folder}" in rows[name]["error"]
    assert "is not a regular file (a device, a pipe or a socket)" in rows["fifo"]["error"]
    sent = json.dumps(fake.requests)
    assert len(fake.requests) == 1 and "A fair contract" in sent and "secret-line" not in sent
    written = out.read_text(encoding="utf-8") + (folder / "out.branches.jsonl").read_text(encoding="utf-8")
    assert "secret-line" not in written and "VmRSS" not in written


def test_documents_names_another_folder_and_only_that_one(tmp_path, outside):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.docx").write_bytes(make.docx(["We guarantee 100% uptime."]))
    source = write_csv(tmp_path / "batch" / "in.csv", [["a", "", "a.docx"], ["s", "", "../secret/passwd"]],
                       header=("id", "text", "path"))
    out = tmp_path / "batch" / "out.csv"
    code, _, err = batch([str(source), "--column", "text", "--out", str(out), "-p", "legal", "-e", "sim:x?latency=0",
                          "--documents", str(tmp_path / "docs")])
    assert code == 0, err
    rows = {r["id"]: r for r in results(out)}
    assert rows["a"]["status"] == "ok" and rows["s"]["status"] == "invalid"
    assert "secret-line" not in out.read_text(encoding="utf-8")


def test_without_a_documents_folder_path_cells_are_never_read(tmp_path, outside):
    """The app's Batch page reads rows this way: a batch file uploaded by anyone names no file on the server."""
    from parallax.batch.rows import read_rows

    (tmp_path / "batch" / "ok.txt").write_text("Fine text.", encoding="utf-8")
    source = write_csv(tmp_path / "batch" / "in.csv", [["1", "", "ok.txt"], ["2", "", str(outside)],
                                                       ["3", "Inline text.", ""]], header=("id", "text", "path"))
    rows = list(read_rows(source, "text"))
    assert [r.text for r in rows] == [None, None, "Inline text."]
    assert rows[1].error == ("row 2: the 'path' cell names a document file, which only `parallax batch` reads; "
                             "here, put the text in the 'text' column (nothing was read)")


def test_a_batch_goes_on_past_a_hostile_document_in_one_process_and_with_workers(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "bad.pdf").write_bytes(bombs.pdf_nested_arrays())
    (folder / "bad.odt").write_bytes(bombs.odt_nested_sections())
    rows = [[f"d{i}", f"Document number {i} to review.", ""] for i in range(4)]
    source = write_csv(folder / "in.csv", [*rows[:2], ["bad1", "", "bad.pdf"], ["bad2", "", "bad.odt"], *rows[2:]],
                       header=("id", "text", "path"))
    for workers in ("1", "2"):
        out = folder / f"out{workers}.csv"
        code, _, err = batch([str(source), "--column", "text", "--out", str(out), "-p", "legal", "-e",
                              "sim:x?latency=0", "--workers", workers, "--concurrency", "4"])
        assert code == 0, err
        statuses = {r["id"]: r["status"] for r in results(out)}
        assert statuses == {"d0": "ok", "d1": "ok", "bad1": "invalid", "bad2": "invalid", "d2": "ok", "d3": "ok"}


# ---- stored provider-batch jobs ----

def test_a_job_this_installation_did_not_send_is_shown_and_never_collected(tmp_path, outside, fake, monkeypatch):
    from parallax.storage import open_store

    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-untrusted-0123456789abcdefgh")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    source = write_csv(tmp_path / "batch" / "in.csv", [["1", "", str(outside)]], header=("id", "text", "path"))
    target = tmp_path / "victim.csv"
    target.write_text("precious\n", encoding="utf-8")
    args = {"command": "review", "mode": "review", "input": str(source), "column": "text", "out": str(target),
            "documents": "/", "perspective": ["legal"], "engine": ["openai:gpt-4o-mini"], "reducer": "mean",
            "concurrency": 32, "timeout": 120.0, "config": None, "no_cache": True}
    open_store().save_provider_batch("crafted0001", str(target), [{"engine": "openai:gpt-4o-mini", "batch_id": None,
                                     "state": "not sent", "ended": True, "total": 1, "succeeded": 0, "failed": 1}],
                                     {"args": args, "rows": {"1": "1"}, "seal": "0" * 64})
    code, _, err = batch(["--resume", "--poll", "0.01"])
    assert code == 2
    assert "provider batch crafted0001 was not sent from here, or was changed since" in err
    assert f"it would read {str(source)!r} and write {str(target)!r}; nothing was read, sent or written" in err
    assert fake.requests == [] and target.read_text(encoding="utf-8") == "precious\n"
    assert open_store().provider_batches()[0]["job_id"] == "crafted0001"  # still listed, for the user to see


def test_a_sealed_job_changed_in_the_history_is_refused(tmp_path, fake, monkeypatch):
    from parallax.batch.output import BatchOutput
    from parallax.batch.provider import sealed, submit
    from parallax.batch.rows import read_rows
    from parallax.config import load_config
    from parallax.run.plan import plan_review
    from parallax.storage import open_store

    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-untrusted-0123456789abcdefgh")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    source = write_csv(tmp_path / "in.csv", [["d1", "First text."]])
    out = tmp_path / "out.csv"
    plan = plan_review("x", load_config(None), ["legal"], ["openai:gpt-4o-mini"], "mean", None, 120.0)
    options = {"input": str(source), "column": "text", "out": str(out), "perspective": ["legal"],
               "engine": ["openai:gpt-4o-mini"], "reducer": "mean", "no_cache": True}
    output = BatchOutput(plan, out, 1)
    try:
        asyncio.run(submit(plan, output.to_run(read_rows(source, "text")), open_store(), out, options))
    finally:
        output.close()
    (record,) = open_store().provider_batches()
    assert sealed(record)
    record["job"]["args"]["input"] = "/etc/passwd"
    assert not sealed(record)


# ---- documents: limits, a confined reader, clear refusals ----

def test_bombs_are_refused_by_name_and_cost_this_process_no_memory():
    cases = [
        (bombs.docx_zip_bomb(256), "bomb.docx", "bomb.docx cannot be read as a Word document: its word/document.xml "
                                                "would inflate to 268,435,456 bytes, over the limit of 64 MB"),
        (bombs.odt_nested_sections(), "deep.odt", "deep.odt cannot be read as an OpenDocument text: its XML is damaged "
                                                  "or nested too deeply"),
        (bombs.pdf_huge_streams(2, 24), "huge.pdf", "huge.pdf cannot be read as a PDF: page 1 is too large to read"),
        (bombs.pdf_nested_arrays(), "deep.pdf", "deep.pdf cannot be read as a PDF: it is nested too deeply to read"),
        (bombs.html_nested(), "deep.html", "deep.html cannot be read as HTML: its elements are nested more than 256 "
                                           "deep"),
        (b"<a " * 50_000, "tags.html", "tags.html has no text to review"),
        (b"<!--" * 100_000, "comments.html", "comments.html has no text to review"),
    ]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for data, name, message in cases:
        with pytest.raises(InputError) as refused:
            read_document(data, name)
        assert str(refused.value).startswith(message), str(refused.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KB: the child did the work


def test_repeat_counts_and_pictures_are_not_inflated():
    assert read_document(bombs.odt_spaces("1000000000"), "spaces.odt").text == "Before after."
    assert read_document(bombs.odt_spaces("lots"), "lots.odt").text == "Before after."
    assert read_document(bombs.odt_pictures_bomb(256), "pictures.odt").text == "A picture follows."


def test_text_is_read_no_further_than_the_limit(monkeypatch):
    monkeypatch.setenv("PARALLAX_MAX_CHARS", "1000")
    with pytest.raises(InputError, match="many.docx holds far more than 1,000 characters of text, the limit"):
        read_document(bombs.docx_tiny_paragraphs(5_000), "many.docx")
    assert read_document(bombs.docx_tiny_paragraphs(100), "some.docx").text == "\n\n".join(["a"] * 100)


def test_hidden_text_is_never_sent():
    assert read_document(bombs.docx_hidden_text(), "hidden.docx").text == "Fees are due in 30 days."
    assert read_document(bombs.html_hidden_text(), "hidden.html").text == "Release notes: start-up is faster."
    assert read_document(b"<p>Shown</p><![CDATA[x]]><p>too</p>", "odd.html").text.startswith("Shown")


def test_aes_encrypted_pdfs_are_read_or_refused_by_name(tmp_path):
    assert read_document(make.aes_pdf(["Secret terms apply."], ""), "open.pdf").text == "Secret terms apply."
    (tmp_path / "locked.pdf").write_bytes(make.aes_pdf(["Secret terms apply."], "hunter2"))
    code, err = _review(tmp_path / "locked.pdf")
    assert (code, err) == (2, f"parallax: {tmp_path / 'locked.pdf'} is encrypted (password-protected): remove the "
                              "password and try again\n")


@pytest.mark.parametrize(("data", "name", "expected"), [
    (bombs.odt_nested_sections(), "deep.odt", 2),  # RecursionError, exit 1 and a traceback before
    (bombs.pdf_nested_arrays(), "deep.pdf", 2),  # RecursionError
    (b"<p>x</p><![", "odd.html", 0),  # ParserRejectedMarkup before; libxml2 reads the text
])
def test_the_cli_never_shows_a_traceback_for_a_document(tmp_path, data, name, expected):
    (tmp_path / name).write_bytes(data)
    code, err = _review(tmp_path / name)
    assert code == expected and "Traceback" not in err, err


def test_a_language_tag_of_thousands_of_subtags_is_an_input_error(tmp_path):
    (tmp_path / "a.txt").write_text("Hello.", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["translate", str(tmp_path / "a.txt"), "--source", "en-" + "-".join(["abcdefgh"] * 5000),
                     "--target", "de", "-e", "pseudo"], stdin=Stdin(b""), out=out, err=err)
    assert code == 2 and "unknown source language" in err.getvalue() and "Traceback" not in err.getvalue()


def hog() -> int:
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))


def stall() -> None:
    time.sleep(3600)  # the subject: a reader that never returns


def test_a_confined_call_that_runs_out_of_memory_or_time_is_ended_and_said():
    ended = run_confined(hog, memory_bytes=256 * 1024 * 1024, cpu_s=10, wall_s=20)
    assert ended.value is None and (isinstance(ended.error, MemoryError) or ended.killed)
    ended = run_confined(stall, memory_bytes=256 * 1024 * 1024, cpu_s=10, wall_s=0.5)
    assert ended.killed == "it took longer than 0.5 s"
