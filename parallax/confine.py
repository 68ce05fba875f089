"""Running a function on untrusted input in a child process under memory and CPU limits, so that no input can
take the calling process (the app's server, a batch) down with it: a child that runs out of memory or time is
killed, and its end is a value the caller words, never a crash or a hang.

Children are forked by a fork server that imported Parallax once (the one `workers.py` uses too): a child starts
in milliseconds and inherits none of the caller's threads or memory.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# What the fork server imports once: the document readers, and what every batch worker needs.
PRELOAD = ["parallax.readers", "lxml.etree", "lxml.html", "pypdf", "parallax.workers", "parallax.batch",
           "parallax.storage", "parallax.engines.openai_engine", "parallax.engines.anthropic_engine", "openai",
           "anthropic"]


def fork_server() -> Any:
    """The multiprocessing context whose processes are forked by a fork server that imported PRELOAD: each starts
    in milliseconds, from a clean process (the caller's threads and event loop are not inherited, as they would
    be by a plain fork)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_early() -> None:
    """Start the fork server now, so that its imports overlap with other work (a batch planning and reading its
    input, the app drawing its first page) instead of delaying the first document read or the first worker."""
    from multiprocessing import forkserver

    fork_server()
    forkserver.ensure_running()


@dataclass(frozen=True)
class Ended:
    """How a confined call ended: `value` when it returned, else `error` (an exception it raised, pickled back)
    or `killed` (why the child died: memory, time)."""

    value: Any = None
    error: BaseException | None = None
    killed: str | None = None


def run_confined(function: Callable[..., Any], *args: Any, memory_bytes: int, cpu_s: int, wall_s: float) -> Ended:
    """`function(*args)` in a child allowed `memory_bytes` of address space beyond what it starts with and
    `cpu_s` seconds of CPU; the child is killed after `wall_s` seconds whatever it does (a read that blocks)."""
    context = fork_server()
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sending, function, args, memory_bytes, cpu_s), daemon=True,
                            name="parallax-confined")
    child.start()
    sending.close()
    try:
        if not receiving.poll(wall_s):
            return Ended(killed=f"it took longer than {wall_s:g} s")
        try:
            kind, payload = receiving.recv()
        except (EOFError, OSError):
            child.join(wall_s)
            return Ended(killed="it needs more memory than allowed" if child.exitcode in (1, -9, None)
                         else f"it needs more than {cpu_s} s of work" if child.exitcode == -24  # SIGXCPU
                         else f"the reader stopped (exit code {child.exitcode})")
        return Ended(value=payload) if kind == "ok" else Ended(error=payload)
    finally:
        receiving.close()
        if child.is_alive():
            child.kill()
        child.join()


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - Linux always says


def _child(sending: Any, function: Callable[..., Any], args: tuple[Any, ...], memory_bytes: int, cpu_s: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory_bytes,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    # A library that prints (odfpy did, to our standard output) must not reach the caller's output.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            result: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            result = ("error", MemoryError("it needs more memory than allowed"))
        except RecursionError:
            result = ("error", RecursionError("it is nested too deeply to read"))
        except Exception as exc:  # noqa: BLE001 - the caller words it; a traceback stays here
            result = ("error", exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}"))
    try:
        sending.send(result)
    finally:
        sending.close()
        os._exit(0)  # no atexit work, no flushing of buffers the fork server left us


def _picklable(exc: BaseException) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure means: send a plain copy
        return False
    return True
