"""`parallax batch --workers N`: several processes, one results file, exact resume after a kill, one rate limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.fakes.provider_server import ok
from tests.test_batch import batch, results, write_csv

ROOT = Path(__file__).resolve().parent.parent


def _env(fake, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "fake-key-workers-0123456789abcdefgh", "OPENAI_BASE_URL": fake.openai_url,
            "PARALLAX_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}


def _descendants(pid: int) -> list[int]:
    """Children, their children and so on (the workers are forked by a fork server, a child of the batch)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (int(c) for c in (task / "children").read_text().split()):
            found += [child, *_descendants(child)]
    return found


def _name(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _forked(pid: int) -> int:
    """How many of the batch's descendants are the fork server or a process it forked."""
    try:
        return sum("forkserver" in _name(child) for child in _descendants(pid))
    except (FileNotFoundError, ProcessLookupError):  # one ended while being read
        return -1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}").exists() else "X"
    return status not in ("Z", "X")  # a zombie has ended: only its parent has not read its exit


def _until(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_workers_write_every_document_once_and_share_one_rate_limit(tmp_path, fake, monkeypatch):
    for name, value in _env(fake, tmp_path).items():
        monkeypatch.setenv(name, value)
    source = write_csv(tmp_path / "in.csv", [[f"d{i}", f"Text number {i}."] for i in range(12)] + [["bad", ""]])
    code, out, err = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", "legal",
                            "-p", "technical", "-e", "openai:gpt-4o-mini", "--workers", "2", "--concurrency", "6",
                            "--rpm", "openai=600", "--no-cache"])
    assert code == 0, err
    assert "6 at once in 2 worker processes" in err
    rows = results(tmp_path / "out.csv")
    assert sorted(r["id"] for r in rows) == sorted([f"d{i}" for i in range(12)] + ["bad"])
    assert {r["id"]: r["status"] for r in rows}["bad"] == "invalid"
    assert all(r["status"] == "ok" and float(r["aggregate_score"]) == 7 for r in rows if r["id"] != "bad")
    assert fake.calls("gpt-4o-mini") == 24
    # openai=600 a minute is one call every 0.1 s for the whole batch (24 calls: 2.3 s), not per worker (a bucket
    # each: 1.1 s).
    arrivals = sorted(r["at"] for r in fake.requests if r["model"] == "gpt-4o-mini")
    assert arrivals[-1] - arrivals[0] > 2.1


def test_a_killed_batch_with_two_workers_resumes_losing_and_repeating_nothing(tmp_path, fake):
    texts = {f"d{i}": f"Document {i} to review." for i in range(16)}
    source = write_csv(tmp_path / "in.csv", [[k, v] for k, v in texts.items()])
    out = tmp_path / "out.csv"
    for _ in range(32):  # a call killed while waiting still takes its reply when released
        fake.enqueue("gpt-4o-mini", ok(chunks=4, delay=0.1))
    # Four calls are answered; the others wait at the server until the batch is killed, so that it cannot end
    # before both workers exist (on a busy machine one worker did the whole batch before the other was forked).
    answered, released, lock = [0], threading.Event(), threading.Lock()

    def gate(_model: str, _body: dict) -> None:
        with lock:
            answered[0] += 1
            late = answered[0] > 4
        if late:
            released.wait(60)
        return None  # the scripted reply

    fake.answer = gate
    command = [sys.executable, "-m", "parallax", "batch", str(source), "--column", "text", "--out", str(out),
               "-p", "legal", "-e", "openai:gpt-4o-mini", "--workers", "2", "--concurrency", "4", "--no-cache"]
    first = subprocess.Popen(command, env=_env(fake, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _until(lambda: _forked(first.pid) == 3 and out.exists() and len(results(out)) >= 4)
    workers = _descendants(first.pid)
    # the fork server and the two workers it forked (a fork keeps its command line), and the resource tracker
    assert sum("forkserver" in _name(pid) for pid in workers) == 3 and len(workers) == 4
    first.send_signal(signal.SIGKILL)
    first.wait()
    released.set()
    _until(lambda: not any(_alive(pid) for pid in workers), 10)  # no worker goes on calling for nobody
    written_first = {r["id"] for r in results(out)}
    assert 4 <= len(written_first) < 16
    calls_before = len(fake.requests)

    second = subprocess.run(command, env=_env(fake, tmp_path), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    rows = results(out)
    assert sorted(r["id"] for r in rows) == sorted(texts)  # every document once: none lost, none twice
    assert all(r["status"] == "ok" for r in rows)
    resent = [r for r in fake.requests[calls_before:] if r["model"] == "gpt-4o-mini"]
    assert len(resent) == 16 - len(written_first)  # exactly the documents not written before the kill
    sent_again = " ".join(m["content"] for r in resent for m in r["body"]["messages"])
    assert not [doc for doc in written_first if texts[doc] in sent_again]
    assert f"({len(written_first)} from an earlier run)" in second.stdout
