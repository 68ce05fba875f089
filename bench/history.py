"""What keeping the history costs: ms per branch written (SQLite, PostgreSQL), and a 32-branch run with and
without recording, measured side by side. Needs PostgreSQL installed (as for `make test`)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parallax.config import load_config  # noqa: E402
from parallax.perspectives import Perspective  # noqa: E402
from parallax.results import BranchResult  # noqa: E402
from parallax.run.execute import RunOutcome, execute  # noqa: E402
from parallax.run.plan import plan_review  # noqa: E402
from parallax.storage import Store  # noqa: E402
from parallax.storage.history import record  # noqa: E402
from tests.postgres import Cluster  # noqa: E402

N_WRITES = 500


def per_write_ms(store: Store) -> float:
    store.start_run("bench", "review", "text", {}, [])
    result = BranchResult("b", 0, "sim:x", "technical", score=5.0, text="x" * 2000)
    t0 = time.perf_counter()
    for i in range(N_WRITES):
        result.branch_id = f"b{i}"
        store.save_branch("bench", result)
    return (time.perf_counter() - t0) * 1000 / N_WRITES


async def run_ms(store: Store | None) -> float:
    config = load_config(env={})
    names = [f"p{i}" for i in range(32)]
    for name in names:
        config.perspectives[name] = Perspective(name, name, "rubric")
    plan = plan_review("A text.", config, names, ["sim:b?latency=0.5&tokens=20&rate=100"])
    outcome = RunOutcome.for_plan(plan)
    if store is not None:
        record(plan, outcome, store, use_cache=False)
    t0 = time.perf_counter()
    await execute(plan, outcome=outcome)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    cluster = Cluster()
    try:
        stores = {"sqlite": Store(f"sqlite:///{tempfile.mkdtemp()}/bench.db"),
                  "postgresql": Store(cluster.new_database())}
        for name, store in stores.items():
            print(f"{name}: {per_write_ms(store):.2f} ms per branch written ({N_WRITES} writes, 2 kB text each)")
        for name, store in stores.items():
            plain = statistics.median(asyncio.run(run_ms(None)) for _ in range(3))
            kept = statistics.median(asyncio.run(run_ms(store)) for _ in range(3))
            print(f"32 sim branches (0.5 s + 20 tokens): {plain:.0f} ms unsaved vs {kept:.0f} ms kept in {name} "
                  f"-> ratio {kept / plain:.3f}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
