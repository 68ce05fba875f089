"""Running a function on untrusted input in a child process under memory, CPU and time limits, so that no input
can take the calling process (the app's server, a batch) down with it: a child that runs out of memory or time is
killed, and how it ended is a value the caller words, never a crash or a hang.

One small server process per caller process (`python -m parallax.documents.confine`, started on first use,
~0.2 s) imports the document readers once and forks a child for each call: a child starts in milliseconds, inherits
none of the caller's threads or memory, and its output cannot reach the caller's (a library that prints went to our
standard output before). Calls take turns: one document at a time is read.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

PRELOAD = ("parallax.documents.readers", "lxml.etree", "lxml.html", "pypdf")


@dataclass(frozen=True)
class Ended:
    """How a confined call ended: `value` when it returned, else `error` (the exception it raised) or `killed`
    (why the child was stopped: memory, time). `peak_mb`: the child's peak resident memory."""

    value: Any = None
    error: BaseException | None = None
    killed: str | None = None
    peak_mb: float = 0.0


_lock = threading.Lock()
_server: subprocess.Popen[bytes] | None = None


def run_confined(function: Callable[..., Any], *args: Any, memory_bytes: int, cpu_s: int, wall_s: float) -> Ended:
    """`function(*args)` in a child allowed `memory_bytes` of address space beyond what it starts with and `cpu_s`
    seconds of CPU; killed after `wall_s` seconds whatever it does. `function` must be importable by name."""
    global _server
    request = pickle.dumps((function, args, memory_bytes, cpu_s, wall_s))
    with _lock:
        for attempt in (1, 2):  # a server that died (killed from outside) is started again, once
            if _server is None or _server.poll() is not None:
                path = os.pathsep.join(p for p in sys.path if p)  # it imports what this process can
                _server = subprocess.Popen([sys.executable, "-m", "parallax.documents.confine"], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, close_fds=True, start_new_session=True,
                                           env={**os.environ, "PYTHONPATH": path})
            try:
                assert _server.stdin is not None and _server.stdout is not None
                _write(_server.stdin, request)
                return pickle.loads(_read(_server.stdout))  # noqa: S301 - our own child's answer
            except (OSError, EOFError):
                _server.kill()
                _server = None
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


def start_early() -> None:
    """Start the server now, so that its imports overlap with other work (the app drawing its first page)."""
    run_confined(len, b"", memory_bytes=1 << 28, cpu_s=5, wall_s=30)


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the reader process ended")
    (size,) = struct.unpack(">Q", head)
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("the reader process ended")
    return body


# ---- the server, in its own process ----

def serve() -> None:
    """Answer calls from standard input, one at a time, each in a forked child; exits when the caller is gone."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed here may corrupt the answers
    while True:
        try:
            request = _read(requests)
        except EOFError:
            return
        try:
            function, args, memory_bytes, cpu_s, wall_s = pickle.loads(request)  # noqa: S301 - our caller
        except Exception as exc:  # noqa: BLE001 - e.g. a function this process cannot import
            ended = Ended(error=RuntimeError(f"{type(exc).__name__}: {exc}"))
        else:
            ended = _call(function, args, memory_bytes, cpu_s, wall_s)
        _write(answers, pickle.dumps(ended))


def _call(function: Callable[..., Any], args: tuple[Any, ...], memory_bytes: int, cpu_s: int, wall_s: float) -> Ended:
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reading)
        _child(writing, function, args, memory_bytes, cpu_s)
    os.close(writing)
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_s
    timed_out = False
    with os.fdopen(reading, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                timed_out = True
                break
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    peak_mb = usage.ru_maxrss / 1024
    if timed_out:
        return Ended(killed=f"it took longer than {wall_s:g} s", peak_mb=peak_mb)
    try:
        kind, payload = pickle.loads(b"".join(chunks))  # noqa: S301 - our own child
    except Exception:  # noqa: BLE001 - no answer: the child died
        signalled = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return Ended(killed=f"it needs more than {cpu_s} s of work" if signalled == signal.SIGXCPU
                     else "it needs more memory than allowed" if signalled in (None, signal.SIGKILL, signal.SIGSEGV)
                     else f"the reader stopped (signal {signalled})", peak_mb=peak_mb)
    return Ended(value=payload, peak_mb=peak_mb) if kind == "ok" else Ended(error=payload, peak_mb=peak_mb)


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - Linux always says


def _child(writing: int, function: Callable[..., Any], args: tuple[Any, ...], memory_bytes: int, cpu_s: int) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # a library that prints, even from C, prints nowhere
        os.dup2(devnull, 2)
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory_bytes,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        try:
            result: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            result = ("error", MemoryError("it needs more memory than allowed"))
        except RecursionError:
            result = ("error", RecursionError("it is nested too deeply to read"))
        except Exception as exc:  # noqa: BLE001 - the caller words it; a traceback stays here
            result = ("error", exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}"))
        data = pickle.dumps(result)
        with os.fdopen(writing, "wb") as pipe:
            pipe.write(data)
    finally:
        os._exit(0)  # never back into the server's loop


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object
    except Exception:  # noqa: BLE001 - any failure means: send a plain copy
        return False
    return True


if __name__ == "__main__":
    from parallax.documents.confine import serve as serve_here  # not __main__'s copy: Ended must unpickle as ours

    serve_here()
