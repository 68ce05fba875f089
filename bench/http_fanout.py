"""Fan-out over real HTTP: one review of 12 or 32 branches (perspectives × engines) against a loopback server that
answers every call after a fixed delay, in the OpenAI and the Anthropic wire formats, through the real SDKs.

    .venv/bin/python bench/http_fanout.py [--latency 2.0] [--branches 12 32] [--formats openai anthropic] [--repeats 3]

The engines are configured as users have them: `openai:M1`… / `anthropic:M1`… through OPENAI_BASE_URL /
ANTHROPIC_BASE_URL, no `structured` setting (auto). Each case runs in a fresh process, so what it measures is the
first run of that process (nothing learned, no connection open):
  - page: the Review page's path — the run recorded in a history, then streamed on a private event loop in another
    thread, events drained every 0.1 s as the page does (`run_live`, without Streamlit);
  - cli: `parallax review` itself (its `main`, in the child process).
"run wall" is the run's wall as Parallax reports it (`wall_ms`: from the run's start to its aggregate).
"click/main" is, for the page, from the Run click (plan made) to the end, and for the CLI its `main` (planning,
the SDKs' and LangGraph's imports and the graph's compilation included: first run of the process); "process" is
the whole child process, interpreter start included.
Then, in the same process, `asyncio.gather` over the same SDK calls (one fresh client per engine, the replies
read as Parallax reads them: lines, no object per event): its wall and its slowest call. Printed: wall ÷ that
slowest call, Parallax's run and gather's side by side. Target (issue 23): the run ≤ 1.10× at 12 and 32
branches, both formats, both paths.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loopback import start  # noqa: E402

DOCUMENT = "Version 2.1 cuts start-up time from 4 s to 1 s. Contact sales to upgrade.\n"
TARGET = 1.10
KEY = "bench-not-a-key"
SCHEMA = {"type": "object", "properties": {"score": {"type": "number"}, "summary": {"type": "string"}},
          "required": ["score", "summary"], "additionalProperties": False}


def shape(branches: int) -> tuple[list[str], int]:
    """Perspectives and the number of engines: 12 = 3 × 4, 32 = 4 × 8."""
    perspectives = ["technical", "business", "legal", "plain-language"]
    for p in (3, 4):
        if branches % p == 0 and branches // p >= p:
            return perspectives[:p], branches // p
    raise SystemExit(f"--branches {branches}: use a multiple of 3 or 4 (perspectives × engines)")


def case_environment(port: int, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_AUTH_KEY", "_BASE_URL")) and k not in ("PARALLAX_DATABASE_URL",
                                                                                   "PARALLAX_CONFIG")}
    config = home / "parallax.toml"
    config.write_text('[perspectives.plain-language]\ndescription = "plain language for a general reader"\n'
                      'rubric = "- Short sentences and common words."\n', encoding="utf-8")
    return {**env, "PYTHONPATH": str(ROOT), "PARALLAX_HOME": str(home), "PARALLAX_CONFIG": str(config),
            "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}


# --- one case, in its own process ---


def run_page(perspectives: list[str], engines: list[str]) -> tuple[float, float]:
    """As the Review page runs it: planned and recorded in the script thread, streamed on a private loop. Returns
    the run's wall (as Parallax reports it) and the time from the Run click (the plan made) to the end."""
    from parallax.config import load_config
    from parallax.run.execute import RunOutcome, stream_run
    from parallax.run.plan import plan_review
    from parallax.storage import Store
    from parallax.storage.history import record

    config = load_config(os.environ["PARALLAX_CONFIG"], env=dict(os.environ))
    plan = plan_review(DOCUMENT, config, perspectives, engines, timeout_s=120)
    t0 = time.perf_counter()
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, Store(f"sqlite:///{os.environ['PARALLAX_HOME']}/history.db"), False)
    done = object()

    async def pump(queue: asyncio.Queue[Any]) -> None:
        async for event in stream_run(plan):
            queue.put_nowait(event)
        queue.put_nowait(done)

    async def next_batch(queue: asyncio.Queue[Any]) -> list[Any]:
        try:
            batch = [await asyncio.wait_for(queue.get(), 0.1)]
        except TimeoutError:
            return []
        while not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    def script_thread() -> None:
        loop = asyncio.new_event_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        task = loop.create_task(pump(queue))
        try:
            while True:
                events = loop.run_until_complete(next_batch(queue))
                for event in events:
                    if event is not done:
                        outcome.apply(event)
                if done in events:
                    break
            loop.run_until_complete(task)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=script_thread)
    thread.start()
    thread.join()
    clicked = time.perf_counter() - t0
    assert outcome.aggregate is not None and outcome.aggregate.n_ok == len(plan.branches), \
        [r.error for r in outcome.ordered()]
    assert outcome.wall_ms is not None
    return outcome.wall_ms / 1000, clicked


def run_cli(perspectives: list[str], engines: list[str]) -> tuple[float, float]:
    """`parallax review` (its `main`). Returns the run's wall as the command reports it, and `main`'s time."""
    from parallax.cli import main

    document = Path(os.environ["PARALLAX_HOME"]) / "document.txt"
    document.write_text(DOCUMENT, encoding="utf-8")
    argv = ["review", str(document), "--no-cache", "--json", str(document.with_suffix(".json"))]
    argv += [a for p in perspectives for a in ("-p", p)] + [a for e in engines for a in ("-e", e)]
    t0 = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        code = main(argv, out=quiet, err=quiet)
    command = time.perf_counter() - t0
    results = json.loads(document.with_suffix(".json").read_text(encoding="utf-8"))
    assert code == 0 and all(r["status"] == "ok" for r in results["branches"]), results["branches"]
    return results["wall_ms"] / 1000, command


async def gather_calls(wire: str, perspectives: list[str], models: list[str]) -> tuple[float, float]:
    """The same calls with the SDKs alone: one fresh client per engine, all at once, every event read."""
    port_url = os.environ["OPENAI_BASE_URL"] if wire == "openai" else os.environ["ANTHROPIC_BASE_URL"]
    durations: list[float] = []

    if wire == "openai":
        import openai

        clients: dict[str, Any] = {m: openai.AsyncOpenAI(api_key=KEY, base_url=port_url) for m in models}

        async def call(model: str, perspective: str) -> None:
            t0 = time.perf_counter()
            response = await clients[model].chat.completions.create(
                model=model, max_completion_tokens=1500, stream=True, stream_options={"include_usage": True},
                response_format={"type": "json_schema", "json_schema": {"name": "judgement", "schema": SCHEMA,
                                                                        "strict": True}},
                messages=[{"role": "system", "content": f"Review from the {perspective} perspective."},
                          {"role": "user", "content": DOCUMENT}])
            async for _ in response.response.aiter_lines():  # read as Parallax reads it: lines, no chunk objects
                pass
            durations.append(time.perf_counter() - t0)
    else:
        import anthropic

        clients = {m: anthropic.AsyncAnthropic(api_key=KEY, base_url=port_url) for m in models}

        async def call(model: str, perspective: str) -> None:
            t0 = time.perf_counter()
            stream = await clients[model].messages.create(
                model=model, max_tokens=1500, stream=True, system=f"Review from the {perspective} perspective.",
                tools=[{"name": "judgement", "description": "Submit the structured result.", "input_schema": SCHEMA}],
                tool_choice={"type": "tool", "name": "judgement"}, messages=[{"role": "user", "content": DOCUMENT}])
            async for _ in stream.response.aiter_lines():  # read as Parallax reads it: lines, no event objects
                pass
            durations.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(call(m, p) for m in models for p in perspectives))
    return time.perf_counter() - t0, max(durations)


def child(path: str, wire: str, branches: int) -> None:
    perspectives, n_engines = shape(branches)
    models = [f"M{i + 1}" for i in range(n_engines)]
    engines = [f"{wire}:{m}" for m in models]
    wall, whole = (run_page if path == "page" else run_cli)(perspectives, engines)
    gather_wall, slowest = asyncio.run(gather_calls(wire, perspectives, models))
    print(json.dumps({"wall": wall, "whole": whole, "gather_wall": gather_wall, "slowest": slowest}))


# --- the table ---


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=2.0, help="seconds before the server answers a call")
    parser.add_argument("--branches", type=int, nargs="+", default=[12, 32])
    parser.add_argument("--formats", nargs="+", default=["openai", "anthropic"], choices=["openai", "anthropic"])
    parser.add_argument("--paths", nargs="+", default=["page", "cli"], choices=["page", "cli"])
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per case; the median is shown")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "FORMAT", "BRANCHES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    server, port = start(args.latency)
    print(f"server answers every call after {args.latency} s; each case is the first run of a fresh process "
          f"(the median of {args.repeats}); parallax from {ROOT}\n")
    print(f"{'format':>9} | {'branches':>8} | {'path':>4} | {'run wall':>8} | {'gather':>7} | {'slowest call':>12} | "
          f"{'run ÷ slowest':>13} | {'gather ÷ slowest':>16} | {'click/main':>10} | {'process':>7}")
    failed = []
    try:
        for wire in args.formats:
            for branches in args.branches:
                for path in args.paths:
                    runs, process_s = [], []
                    for _ in range(args.repeats):
                        env = case_environment(port, Path(tempfile.mkdtemp()))
                        t0 = time.perf_counter()
                        done = subprocess.run([sys.executable, __file__, "--child", path, wire, str(branches)],
                                              cwd=ROOT, env=env, capture_output=True, text=True)
                        process_s.append(time.perf_counter() - t0)
                        if done.returncode != 0:
                            failed.append(f"{wire} {branches} {path}: the case failed:\n{done.stderr[-2000:]}")
                            break
                        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                    if len(runs) < args.repeats:
                        continue
                    m = min(runs, key=lambda r: abs(r["wall"] / r["slowest"]  # the run of median ratio
                                                    - statistics.median(x["wall"] / x["slowest"] for x in runs)))
                    process = statistics.median(process_s)
                    ratio, floor = m["wall"] / m["slowest"], m["gather_wall"] / m["slowest"]
                    print(f"{wire:>9} | {branches:>8} | {path:>4} | {m['wall']:>7.2f}s | {m['gather_wall']:>6.2f}s | "
                          f"{m['slowest']:>11.2f}s | {ratio:>12.2f}× | {floor:>15.2f}× | {m['whole']:>9.2f}s | "
                          f"{process:>6.2f}s", flush=True)
                    if ratio > TARGET:
                        failed.append(f"{wire}, {branches} branches, {path}: {ratio:.2f}× the slowest call "
                                      f"(target ≤ {TARGET}×)")
    finally:
        server.terminate()
    print("\n" + ("\n".join(f"FAIL: {f}" for f in failed) if failed else "PASS: all targets met"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
