"""Fan-out overhead: N sim branches of 0.5 s through the whole review graph vs a plain asyncio.gather.

Prints, per N: wall ÷ slowest branch, and the graph's overhead over the gather baseline measured
in the same run. Targets: ratio ≤ 1.05 at N = 32; overhead ≤ 1 ms + 0.3 ms × N; 32 branches
cost ≤ 1.10× one branch end to end (whole process). Then the same runs kept in a history (SQLite, every
branch written as it finishes), as a multiple of the gather baseline: ≤ 1.03× at 32 branches, ≤ 1.10× at 512.
Nothing is written to your own history: the history and PARALLAX_HOME are temporary.
"""

from __future__ import annotations

import asyncio
import operator
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parallax.config import load_config  # noqa: E402
from parallax.run.execute import RunOutcome, execute  # noqa: E402
from parallax.run.plan import plan_review  # noqa: E402
from parallax.storage import Store  # noqa: E402
from parallax.storage.history import record  # noqa: E402

LATENCY = 0.5
ENGINE = f"sim:b?latency={LATENCY}&tokens=1&rate=1000"
REPEATS = 5


async def graph_run(n: int, store: Store | None = None) -> tuple[float, float]:
    """One review of n branches; with `store`, kept in that history as it runs (the recorder the app uses)."""
    config = load_config(env={})
    names = [f"p{i}" for i in range(n)]
    for name in names:
        from parallax.perspectives import Perspective

        config.perspectives[name] = Perspective(name, name, "rubric")
    plan = plan_review("A short text to review.", config, names, [ENGINE])
    t0 = time.perf_counter()
    outcome = RunOutcome.for_plan(plan)
    if store is not None:
        record(plan, outcome, store, use_cache=False)
    outcome = await execute(plan, outcome=outcome)
    wall = time.perf_counter() - t0
    slowest = max((r.latency_ms or 0) for r in outcome.ordered()) / 1000
    assert outcome.aggregate is not None and outcome.aggregate.n_ok == n
    return wall, slowest


async def _sleep_node(state: dict) -> dict:
    await asyncio.sleep(LATENCY)
    return {"results": [1]}


async def _count(state: dict) -> dict:
    return {"total": len(state["results"])}


class _Bare(TypedDict, total=False):
    n: int
    results: Annotated[list, operator.add]
    total: int


def _bare_graph():  # the same shape with no Parallax code: LangGraph's own floor
    builder = StateGraph(_Bare)
    builder.add_node("work", _sleep_node)
    builder.add_node("aggregate", _count, defer=True)
    builder.add_conditional_edges(START, lambda s: [Send("work", {}) for _ in range(s["n"])], ["work"])
    builder.add_edge("work", "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile()


BARE = _bare_graph()


async def bare_run(n: int) -> float:
    t0 = time.perf_counter()
    async for _ in BARE.astream({"n": n}, stream_mode=["custom", "updates"]):
        pass
    return time.perf_counter() - t0


async def gather_run(n: int) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*(asyncio.sleep(LATENCY) for _ in range(n)))
    return time.perf_counter() - t0


def whole_process(n: int) -> float:
    code = (
        "import sys; from parallax.cli import main; from parallax.perspectives import Perspective; "
        "import parallax.config as c; "
        f"n={n}; "
        "orig=c.load_config\n"
        "def load(path=None, env=None):\n"
        "    cfg = orig(path, env)\n"
        "    [cfg.perspectives.__setitem__(f'p{i}', Perspective(f'p{i}', 'x', 'x')) for i in range(n)]\n"
        "    return cfg\n"
        "import parallax.cli.common as common; common.load_config = load\n"
        f"sys.exit(main(['review', '-', '-e', '{ENGINE}'] + [a for i in range(n) for a in ('-p', f'p{{i}}')]))"
    )
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        input=b"A short text.",
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PARALLAX_HOME": tempfile.mkdtemp()},
    )
    return time.perf_counter() - t0


async def main() -> None:
    await graph_run(1)  # warm imports and the first compile
    print("overhead = wall − gather baseline; 'bare' = the same graph shape with no Parallax code (LangGraph's floor)")
    print(
        f"{'N':>3}  {'wall/slowest':>12}  {'app ms':>7}  {'gather ms':>9}  {'overhead ms':>11}  {'budget ms':>9}  "
        f"{'bare overhead ms':>16}"
    )
    for n in (1, 3, 8, 32):
        ratios, overheads, bares, walls, gathers = [], [], [], [], []
        for _ in range(REPEATS):
            wall, slowest = await graph_run(n)
            base = await gather_run(n)
            bare = await bare_run(n)
            ratios.append(wall / slowest)
            walls.append(wall * 1000)
            gathers.append(base * 1000)
            overheads.append((wall - base) * 1000)
            bares.append((bare - base) * 1000)
        budget = 1 + 0.3 * n
        print(
            f"{n:>3}  {statistics.median(ratios):>12.3f}  {statistics.median(walls):>7.1f}  "
            f"{statistics.median(gathers):>9.1f}  {statistics.median(overheads):>11.2f}  {budget:>9.1f}  "
            f"{statistics.median(bares):>16.2f}"
        )
    store = Store(f"sqlite:///{tempfile.mkdtemp()}/history.db")
    print("\nkept in the history (SQLite) vs not, as a multiple of the gather baseline, medians of 3")
    print(f"{'N':>4}  {'gather ms':>9}  {'bare LangGraph':>14}  {'not kept':>8}  {'kept':>6}  target")
    for n, target in ((32, 1.03), (512, 1.10)):
        kept, plain, bares, gathers = [], [], [], []
        for _ in range(3):
            gathers.append(await gather_run(n))
            bares.append(await bare_run(n))
            plain.append((await graph_run(n))[0])
            kept.append((await graph_run(n, store))[0])
        base = statistics.median(gathers)
        print(f"{n:>4}  {base * 1000:>9.1f}  {statistics.median(bares) / base:>14.3f}  "
              f"{statistics.median(plain) / base:>8.3f}  {statistics.median(kept) / base:>6.3f}  ≤ {target}")
    one = statistics.median(whole_process(1) for _ in range(3))
    many = statistics.median(whole_process(32) for _ in range(3))
    print(f"whole process: 1 branch {one:.2f} s, 32 branches {many:.2f} s, ratio {many / one:.3f} (target ≤ 1.10)")


if __name__ == "__main__":
    asyncio.run(main())
