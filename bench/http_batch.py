"""Batches over real HTTP: documents × 3 perspectives against a loopback OpenAI-compatible server that answers
every call after 0.2 s with ~200 tokens (streamed as SSE when asked, else one JSON body).

    .venv/bin/python bench/http_batch.py [--documents 1000] [--concurrency 32 128 256] [--workers 2]

Side by side in one run, per concurrency:
  - raw: a bare asyncio client reading the same streams, no parsing — the floor (checked against the
    concurrency-bound ideal, so the server is shown not to be the bottleneck);
  - sdk: the same calls as bare `asyncio` tasks through one `openai.AsyncOpenAI` client left at its defaults,
    whole replies, at most `concurrency` at once — the floor of any tool built on the official SDK;
  - streamed: `run_batch` with each branch streaming through the openai SDK (the page's path);
  - whole: `run_batch` as `parallax batch` runs it (whole replies through the SDK), the engine set to
    `structured = "prompt"`;
  - unset: the same with `structured` unset, as users have it (auto: the first calls find the mode out);
  - command: `parallax batch` end to end in its own process (interpreter start, imports, reading the CSV and
    writing the results included), `structured` unset.
Then the streamed path in one process against N worker processes (`--workers N`), each run twice, alternating;
the workers' fork server is started first, as `parallax batch --workers N` starts it before planning.
CPU is the client process's own (the server runs in another process; the command's is not counted). Targets:
Parallax's CPU per call ≤ 3 ms on the streamed and whole paths (issues 14, 23); at concurrency 128 the whole path's
wall ≤ 2× the raw client's, `structured` set or not, and so is the command's; the command no slower at 256 than at
128 (issue 23); 2 workers ≥ 1.7× the calls per second of one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loopback import TOKENS, start  # noqa: E402

LATENCY_S, PERSPECTIVES = 0.2, ("technical", "business", "legal")
# Where the workers target is checked: one process is CPU-bound there, and the concurrency-bound ideal (calls at
# once / latency: 1,280 calls/s) is far above what two cores can do. At 128 at once (640 calls/s), two workers
# reach about two thirds of that ideal: the latency, not the cores, limits them.
WORKERS_TARGET_AT = 256


async def raw_client(port: int, calls: int, concurrency: int) -> None:
    """The floor: keep-alive connections, the request written by hand, the reply read to its end, not parsed."""
    request_body = json.dumps({"model": "bench", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               f"content-length: {len(request_body)}\r\n\r\n{request_body}").encode()
    left = iter(range(calls))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in left:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def sdk_client(port: int, calls: int, concurrency: int) -> None:
    """The SDK floor: `chat.completions.create` (whole replies) in bare tasks, a semaphore, one default client."""
    import openai

    client, gate = openai.AsyncOpenAI(api_key="bench", base_url=f"http://127.0.0.1:{port}/v1"), asyncio.Semaphore(
        concurrency)

    async def call(i: int) -> None:
        async with gate:
            reply = await client.chat.completions.create(
                model="bench", messages=[{"role": "user", "content": f"Document {i}"}])
            assert reply.choices[0].message.content

    await asyncio.gather(*(call(i) for i in range(calls)))
    await client.close()


def engine_config(port: int, structured: str | None) -> Path:
    config_file = Path(tempfile.mkdtemp()) / "parallax.toml"
    config_file.write_text(f'[engines.bench]\nbase_url = "http://127.0.0.1:{port}/v1"\nmodel = "bench"\n'
                           + (f'structured = "{structured}"\n' if structured else "")
                           + "price_input = 0.15\nprice_output = 0.6\n")
    return config_file


async def parallax_batch(port: int, documents: int, concurrency: int, streamed: bool, workers: int = 1,
                         structured: str | None = "prompt") -> int:
    from parallax.batch.rows import Row
    from parallax.batch.run import run_batch
    from parallax.config import load_config
    from parallax.engines import openai_engine
    from parallax.run.plan import plan_review

    openai_engine.LEARNED.clear()  # every case finds the mode out afresh, as a new process does
    config_file = engine_config(port, structured)
    config = load_config(config_file, env={"PATH": "/usr/bin"})
    plan = plan_review("A document to review.", config, PERSPECTIVES, ["bench"], timeout_s=600)
    plan.cache = None  # every call goes to the server
    rows = (Row(i + 1, str(i), f"Document {i}: version 2 cuts start-up time from 4 s to 1 s.")
            for i in range(documents))
    out = Path(tempfile.mkdtemp()) / "out.csv"
    progress = await run_batch(plan, rows, out, documents, concurrency=concurrency, workers=workers, streamed=streamed)
    assert progress.done == documents and progress.failed_rows == 0, progress.failures
    return documents * len(PERSPECTIVES)


def batch_command(port: int, documents: int, concurrency: int) -> float:
    """`parallax batch` end to end, in a process of its own (`structured` unset), as a user runs it; its wall."""
    folder = Path(tempfile.mkdtemp())
    table = folder / "documents.csv"
    table.write_text("id,text\n" + "".join(f"{i},Document {i}: version 2 cuts start-up time from 4 s to 1 s.\n"
                                           for i in range(documents)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_AUTH_KEY", "_BASE_URL")) and k not in ("PARALLAX_DATABASE_URL",
                                                                                   "PARALLAX_CONFIG")}
    env.update(PYTHONPATH=str(ROOT), PARALLAX_HOME=str(folder), PARALLAX_CONFIG=str(engine_config(port, None)))
    argv = [sys.executable, "-m", "parallax", "batch", str(table), "--column", "text", "--out",
            str(folder / "out.csv"), "--concurrency", str(concurrency), "--no-cache", "-e", "bench"]
    argv += [a for p in PERSPECTIVES for a in ("-p", p)]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    written = (folder / "out.csv").read_text(encoding="utf-8").count("\n") - 1 if done.returncode == 0 else 0
    assert done.returncode == 0 and written == documents, (done.returncode, written, done.stderr[-2000:])
    return wall


def measure(label: str, work) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(work)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 128, 256])
    parser.add_argument("--workers", type=int, default=2, help="also: the streamed path in 1 and N processes")
    parser.add_argument("--workers-concurrency", type=int, nargs="+", default=[128, WORKERS_TARGET_AT])
    args = parser.parse_args()
    server, port = start(LATENCY_S)
    if args.workers > 1:  # as `parallax batch --workers N` does on starting, before it plans and reads its input
        from parallax.batch.workers import start_early

        start_early()
    calls = args.documents * len(PERSPECTIVES)
    measure("warm-up", parallax_batch(port, 10, 8, True))  # imports and first-use costs, not counted per call
    print(f"{args.documents} documents × {len(PERSPECTIVES)} perspectives = {calls} calls, {LATENCY_S} s latency, "
          f"{TOKENS} tokens a reply; parallax from {ROOT}\n")
    print(f"{'concurrency':>11} | {'ideal':>6} | {'raw':>6} | {'streamed':>21} | {'whole (prompt)':>21} | "
          f"{'unset':>21} | {'command':>7} | {'sdk':>21} | {'whole/raw':>9} | {'unset/raw':>9} | {'command/raw':>11} | "
          f"{'command/sdk':>11}")
    failed = []
    commands: dict[int, float] = {}
    try:
        for c in args.concurrency:
            ideal = math.ceil(calls / c) * LATENCY_S
            raw_wall, _ = measure("raw", raw_client(port, calls, c))
            stream_wall, stream_cpu = measure("streamed", parallax_batch(port, args.documents, c, True))
            wall, cpu = measure("whole", parallax_batch(port, args.documents, c, False))
            unset_wall, unset_cpu = measure("unset", parallax_batch(port, args.documents, c, False, structured=None))
            commands[c] = command = batch_command(port, args.documents, c)
            sdk_wall, sdk_cpu = measure("sdk", sdk_client(port, calls, c))

            def cell(seconds: float, cpu_s: float) -> str:
                return f"{seconds:>5.1f}s, {1000 * cpu_s / calls:>4.1f} ms CPU"

            print(f"{c:>11} | {ideal:>5.1f}s | {raw_wall:>5.1f}s | {cell(stream_wall, stream_cpu):>21} | "
                  f"{cell(wall, cpu):>21} | {cell(unset_wall, unset_cpu):>21} | {command:>6.1f}s | "
                  f"{cell(sdk_wall, sdk_cpu):>21} | {wall / raw_wall:>8.2f}× | {unset_wall / raw_wall:>8.2f}× | "
                  f"{command / raw_wall:>10.2f}× | {command / sdk_wall:>10.2f}×",
                  flush=True)
            if raw_wall > 1.3 * ideal:
                failed.append(f"the raw client took {raw_wall:.1f}s at {c}: over 1.3× the ideal, the server limits")
            for label, used in (("streamed", stream_cpu), ("whole", cpu)):
                if 1000 * used / calls > 3:
                    failed.append(f"{label}: CPU per call {1000 * used / calls:.1f} ms at concurrency {c} "
                                  "(target ≤ 3 ms)")
            if c == 128:
                for label, seconds in (("whole", wall), ("unset", unset_wall), ("command", command)):
                    if seconds > 2 * raw_wall:
                        failed.append(f"{label}: {seconds:.1f}s at 128 is {seconds / raw_wall:.2f}× the raw "
                                      "client's (target ≤ 2×)")
        if 128 in commands and 256 in commands and commands[256] > commands[128]:
            failed.append(f"command: {commands[256]:.1f}s at 256 at once, slower than at 128 ({commands[128]:.1f}s)")
        if args.workers > 1:  # more than one core: the SDK streaming path, one process against N, alternated
            n = args.workers
            print(f"\nstreamed, 1 process against {n} worker processes (each run twice, alternating):")
            for c in args.workers_concurrency:
                rates: dict[int, list[float]] = {1: [], n: []}
                for w in (1, n, 1, n):
                    wall, _ = measure(f"workers {w}", parallax_batch(port, args.documents, c, True, w))
                    rates[w].append(calls / wall)
                one, many = (sum(rates[w]) / 2 for w in (1, n))
                print(f"{c:>11} at once | 1 process {one:>4.0f} calls/s | {n} workers {many:>4.0f} calls/s | "
                      f"{many / one:.2f}× (ideal {c / LATENCY_S:.0f} calls/s)")
                if c == WORKERS_TARGET_AT and many < 1.7 * one:
                    failed.append(f"{n} workers reached {many / one:.2f}× one at {c} at once (target ≥ 1.7×)")
    finally:
        server.terminate()
    print("\n" + ("\n".join(f"FAIL: {f}" for f in failed) if failed else "PASS: all targets met"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
