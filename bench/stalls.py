"""What must not stall a run, measured on the real clock: the timings the tests once asserted, here as ratios to
a reference (the tests check the behaviour, without timing it).

    .venv/bin/python bench/stalls.py

- a history 300 ms away per commit: when a 6-branch run's last branch ends ÷ the same with an undelayed history
  (≈ 1; the run still returns only once everything is written);
- keyword checks taking 0.6 s beside a quick branch: the quick branch's end ÷ its end when run alone (≈ 1);
- crafted documents: the keyword checks' time ÷ their time on an ordinary text of the same length (they once took
  48 s and 164 s; a few × is linear);
- a sparse 1 GB file: the time to refuse it ÷ the time to refuse an empty file (≈ 1: it is never read);
- a batch whose results stop being writable after 3 rows: the time to stop ÷ the time of the whole batch (< 1);
- the rate limiter at 600 calls a minute: the spacing measured ÷ 0.1 s (≈ 1).

Nothing is written to your own history: PARALLAX_HOME and the databases are temporary.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
HOME = Path(tempfile.mkdtemp())
os.environ["PARALLAX_HOME"] = str(HOME)
os.environ.pop("PARALLAX_DATABASE_URL", None)

from parallax import cli  # noqa: E402
from parallax.batch import output as batch_module  # noqa: E402
from parallax.config import load_config  # noqa: E402
from parallax.engines import offline  # noqa: E402
from parallax.limits import RateLimiter  # noqa: E402
from parallax.run.execute import RunOutcome, execute  # noqa: E402
from parallax.run.plan import plan_review  # noqa: E402
from parallax.storage import Store  # noqa: E402
from parallax.storage.history import record  # noqa: E402

ORDINARY = "Version 2.3 cuts start-up time from 4.1 s to 1.2 s, and the export dialog remembers the last folder. "


def row(name: str, value: float, reference: float, unit: str = "s") -> None:
    print(f"{name:<62} {value:8.3f} {unit} vs {reference:8.3f} {unit}   ratio {value / reference:6.2f}")


def slow_history() -> None:
    def run_s(commit_s: float) -> float:
        store = Store(f"sqlite:///{tempfile.mkdtemp()}/history.db")
        original = store.save_branches

        def save(run_id, results):  # type: ignore[no-untyped-def]
            time.sleep(commit_s)
            return original(run_id, results)

        store.save_branches = save  # type: ignore[method-assign]
        engines = [f"sim:e{i}?latency=0.2&tokens=2&rate=100" for i in range(6)]
        plan = plan_review("A short text.", load_config(env={}), ["technical"], engines)
        outcome = RunOutcome.for_plan(plan)
        record(plan, outcome, store, use_cache=False)
        asyncio.run(execute(plan, outcome=outcome))  # returns once all is written: the last commits included
        return max(r.ended_s or 0.0 for r in outcome.ordered())

    run_s(0)  # warm
    row("6 branches' last end, history 300 ms per commit (vs 0 ms)", run_s(0.3), run_s(0))


def offline_beside() -> None:
    real = offline.review

    def quick_end(slow: bool) -> float:
        def review(text: str, perspective: str):  # type: ignore[no-untyped-def]
            time.sleep(0.6)
            return real(text, perspective)

        offline.review = review if slow else real  # type: ignore[assignment]
        engines = ["sim:quick?latency=0.05&tokens=2&rate=100"] + (["offline:rules"] if slow else [])
        plan = plan_review("A text.", load_config(env={}), ["technical"], engines)
        outcome = asyncio.run(execute(plan))
        offline.review = real  # type: ignore[assignment]
        return next(r.ended_s for r in outcome.ordered() if r.engine.startswith("sim:quick")) or 0.0

    quick_end(False)  # warm
    row("quick branch's end beside 0.6 s of keyword checks (vs alone)", quick_end(True), quick_end(False))


def crafted_documents() -> None:
    crafted = {
        "legal": "a." * 100_000,
        "technical": " ".join("".join(random.Random(i).choices(string.ascii_uppercase, k=5)) for i in range(33_000)),
    }

    def seconds(text: str, perspective: str) -> float:
        t0 = time.perf_counter()
        offline.review(text, perspective)
        return time.perf_counter() - t0

    for perspective, text in crafted.items():
        ordinary = (ORDINARY * (len(text) // len(ORDINARY) + 1))[:len(text)]
        row(f"keyword checks ({perspective}) on a crafted {len(text):,}-char text", seconds(text, perspective),
            seconds(ordinary, perspective))


def huge_file() -> None:
    folder = Path(tempfile.mkdtemp())
    huge, empty = folder / "huge.txt", folder / "empty.txt"
    with huge.open("wb") as handle:
        handle.truncate(1 << 30)
    empty.write_bytes(b"")

    def refuse_s(path: Path) -> float:
        t0 = time.perf_counter()
        assert cli.main(["review", str(path)], out=io.StringIO(), err=io.StringIO()) == 2
        return time.perf_counter() - t0

    refuse_s(empty)  # warm
    row("refusing a sparse 1 GB file (vs an empty one)", refuse_s(huge), refuse_s(empty))


def unwritable_batch() -> None:
    folder = Path(tempfile.mkdtemp())
    source = folder / "in.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows([["id", "text"], *([f"d{i}", f"Text {i}."] for i in range(30))])
    real_write = batch_module.BatchWriter.write

    def batch_s(write: Callable[..., object]) -> float:
        batch_module.BatchWriter.write = write  # type: ignore[method-assign]
        out = folder / f"out-{time.monotonic_ns()}.csv"
        t0 = time.perf_counter()
        cli.main(["batch", str(source), "--column", "text", "--out", str(out), "-p", "legal", "-e", "offline:rules",
                  "--concurrency", "2"], out=io.StringIO(), err=io.StringIO())
        elapsed = time.perf_counter() - t0
        batch_module.BatchWriter.write = real_write  # type: ignore[method-assign]
        return elapsed

    written: list[int] = []

    def disk_fills_up(self, row):  # type: ignore[no-untyped-def]
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(1)
        real_write(self, row)

    batch_s(real_write)  # warm
    row("a 30-row batch stopping when its disk fills (vs all written)", batch_s(disk_fills_up), batch_s(real_write))


def rate_limiter() -> None:
    async def spacing() -> float:
        limiter = RateLimiter(rpm=600)
        await limiter.wait()
        t0 = time.perf_counter()
        for _ in range(10):
            await limiter.wait()
        return (time.perf_counter() - t0) / 10

    row("rate limiter at 600 calls a minute: spacing (vs 0.1 s)", asyncio.run(spacing()), 0.1)


def main() -> None:
    for measure in (slow_history, offline_beside, crafted_documents, huge_file, unwritable_batch, rate_limiter):
        measure()


if __name__ == "__main__":
    main()
