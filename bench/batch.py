"""1,000 documents × 3 perspectives on sim engines with 0.2 s latency at concurrency 32.

Target: within 1.15× the concurrency-bound ideal ⌈3000 / 32⌉ × 0.2 s, peak memory under 400 MiB and
flat as the batch grows. Measured side by side with a plain asyncio.gather + semaphore of the same sleeps.
Each measurement runs in its own process so peak RSS is that run's alone.
"""

from __future__ import annotations

import asyncio
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LATENCY, CONCURRENCY, PERSPECTIVES = 0.2, 32, 3
ENGINE = f"sim:batch?latency={LATENCY}&tokens=1&rate=1000"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def app(documents: int, folder: Path) -> dict[str, float]:
    from parallax.batch.rows import count_rows, read_rows
    from parallax.batch.run import run_batch
    from parallax.config import load_config
    from parallax.run.plan import plan_review

    source = folder / "docs.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(documents):
            writer.writerow([f"doc{i}", f"Document number {i}. Release notes with a figure: {i} ms faster."])
    plan = plan_review("(batch)", load_config(env={}), ["technical", "business", "legal"], [ENGINE])
    before = peak_mib()
    t0 = time.perf_counter()
    progress = await run_batch(plan, read_rows(source, "text"), folder / "out.csv", count_rows(source), CONCURRENCY)
    wall = time.perf_counter() - t0
    assert progress.done == documents and progress.failed_rows == 0
    return {"wall_s": wall, "peak_mib": peak_mib(), "peak_before_run_mib": before}


async def baseline(documents: int) -> dict[str, float]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def call() -> None:
        async with semaphore:
            await asyncio.sleep(LATENCY)

    t0 = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(documents * PERSPECTIVES)))
    return {"wall_s": time.perf_counter() - t0, "peak_mib": peak_mib()}


def child(kind: str, documents: int) -> dict[str, float]:
    code = (f"import asyncio, json, sys, pathlib; sys.path.insert(0, {str(ROOT)!r}); import bench.batch as b; "
            f"r = asyncio.run(b.{kind}({documents}{', pathlib.Path(sys.argv[1])' if kind == 'app' else ''})); "
            "print(json.dumps(r))")
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True, check=True,
                              env={"PATH": "/usr/bin:/bin", "PARALLAX_DATABASE_URL": f"sqlite:///{folder}/h.db"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from parallax.batch.run import ideal_seconds

    for documents in (1000, 3000):
        ideal = ideal_seconds(documents, PERSPECTIVES, CONCURRENCY, LATENCY)
        base = child("baseline", documents)
        ours = child("app", documents)
        print(f"{documents} documents × {PERSPECTIVES} perspectives, concurrency {CONCURRENCY}, latency {LATENCY} s: "
              f"ideal {ideal:.1f} s")
        print(f"  asyncio.gather + semaphore: {base['wall_s']:.2f} s = {base['wall_s'] / ideal:.3f}× ideal, "
              f"peak {base['peak_mib']:.0f} MiB")
        print(f"  parallax batch:             {ours['wall_s']:.2f} s = {ours['wall_s'] / ideal:.3f}× ideal "
              f"(target ≤ 1.15), peak {ours['peak_mib']:.0f} MiB (target < 400; "
              f"{ours['peak_before_run_mib']:.0f} MiB after imports)")


if __name__ == "__main__":
    main()
