"""Hostile inputs through the real command line, each in a fresh process: exit code, wall time, peak RSS (of the
whole process tree: the CLI and the confined reader it starts, sampled every 20 ms), and whether a secret file's
line reached the output.

    .venv/bin/python bench/untrusted.py                  # this checkout
    .venv/bin/python bench/untrusted.py --code /tmp/old  # another checkout (e.g. a git worktree of an older commit)

Each run is limited to 8 GB of address space and --timeout seconds (then "killed"). Run both in one sitting to
compare: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import bombs  # noqa: E402
from tests.fakes import documents as make  # noqa: E402

SECRET = "root:x:0:0:bench-secret-line"


DOCUMENTS = {
    "DOCX zip bomb (1 GB XML)": ("bomb.docx", lambda: bombs.docx_zip_bomb(1024)),
    "DOCX of 1.3 M tiny paragraphs": ("tiny.docx", lambda: bombs.docx_tiny_paragraphs(1_300_000)),
    "ODT text:c=1e9": ("spaces.odt", bombs.odt_spaces),
    "ODT Pictures/ bomb (1 GB)": ("pictures.odt", lambda: bombs.odt_pictures_bomb(1024)),
    "ODT 20,000 nested sections": ("deep.odt", bombs.odt_nested_sections),
    "PDF 12 pages × 70 MB streams": ("huge12.pdf", lambda: bombs.pdf_huge_streams(12, 70)),
    "PDF 100,000 nested [": ("deep.pdf", bombs.pdf_nested_arrays),
    "PDF AES-256, password": ("locked.pdf", lambda: make.aes_pdf(["Secret terms apply."], "hunter2")),
    "HTML 100,000 nested div": ("deep.html", bombs.html_nested),
    "HTML '<a ' × 50,000": ("tags.html", lambda: b"<a " * 50_000),
    "HTML '<!--' × 100,000": ("comments.html", lambda: b"<!--" * 100_000),
    "HTML '<!['": ("odd.html", lambda: b"<p>x</p><!["),
}
PATHS = {  # batch rows whose path cell names these
    "batch path /etc/passwd-like, absolute": "{secret}",
    "batch path ../ to it": "../secret/passwd",
    "batch path /dev/zero": "/dev/zero",
    "batch path a FIFO": "fifo.txt",
}


def run(command: list[str], code: Path, cwd: Path, timeout: float) -> tuple[str, float, float, str]:
    """(exit, seconds, peak RSS in MB, output) of one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(code), "PARALLAX_HOME": str(cwd / "home"),
           "PARALLAX_DATABASE_URL": f"sqlite:///{cwd}/history.db"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("ANTHROPIC_API_KEY", None)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        os.setsid()

    t0 = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               preexec_fn=limit)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:  # the whole process tree's resident memory (the CLI and any reader it starts)
        while not done.wait(0.02):
            peak[0] = max(peak[0], sum(rss for _, rss in _tree(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output, _ = process.communicate(timeout=timeout)
        status = str(process.returncode)
    except subprocess.TimeoutExpired:
        for pid, _ in _tree(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        output, _ = process.communicate()
        status = "killed"
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    return status, seconds, peak[0], output.decode(errors="replace")


def _tree(root: int) -> list[tuple[int, float]]:
    """(pid, RSS in MB) of `root` and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return [(pid, rss.get(pid, 0.0)) for pid in found]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", default=str(ROOT), help="the checkout to run (its folder goes on PYTHONPATH)")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    code = Path(args.code).resolve()
    print(f"code: {code}")
    print(f"{'input':36} {'size':>10} {'exit':>6} {'time':>8} {'peak RSS':>9}  first line of output")
    for label, (name, build) in DOCUMENTS.items():
        if args.only not in label:
            continue
        with tempfile.TemporaryDirectory() as folder:
            # A fresh interpreter per case: ru_maxrss of RUSAGE_CHILDREN is the largest child so far.
            data = build()
            (Path(folder) / name).write_bytes(data)
            result = subprocess.run([sys.executable, __file__, "--one", name, "--code", str(code), "--timeout",
                                     str(args.timeout), "--folder", folder], capture_output=True, text=True)
            print(f"{label:36} {len(data):>10,} {result.stdout.strip()}", flush=True)
    for label, cell in PATHS.items():
        if args.only not in label:
            continue
        with tempfile.TemporaryDirectory() as folder:
            base = Path(folder)
            (base / "secret").mkdir()
            (base / "secret" / "passwd").write_text(SECRET + "\n")
            (base / "batch").mkdir()
            os.mkfifo(base / "batch" / "fifo.txt")
            (base / "batch" / "in.csv").write_text("id,text,path\n1,," + cell.format(secret=base / "secret" / "passwd")
                                                   + "\n2,Plain text.,\n")
            result = subprocess.run([sys.executable, __file__, "--one", "batch", "--code", str(code), "--timeout",
                                     str(args.timeout), "--folder", str(base / "batch")], capture_output=True,
                                    text=True)
            print(f"{label:36} {'':>10} {result.stdout.strip()}", flush=True)


def one() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one")
    parser.add_argument("--code")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--folder")
    args = parser.parse_args()
    folder, code = Path(args.folder), Path(args.code)
    if args.one == "batch":
        command = [sys.executable, "-m", "parallax", "batch", "in.csv", "--column", "text", "--out", "out.csv",
                   "-p", "legal", "-e", "sim:x?latency=0"]
    else:
        command = [sys.executable, "-m", "parallax", "review", args.one, "-p", "legal", "-e", "sim:x?latency=0"]
    status, seconds, peak, output = run(command, code, folder, args.timeout)
    written = "".join(p.read_text(errors="replace") for p in folder.glob("out*"))
    leaked = " · SECRET IN OUTPUT" if "bench-secret-line" in written + output else ""
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith((" ", "run "))]
    first = next((line for line in lines if "parallax:" in line or "Error" in line), lines[-1] if lines else "")
    if args.one == "batch" and (folder / "out.csv").exists():
        first = " | ".join(line[:70] for line in (folder / "out.csv").read_text(errors="replace").splitlines()[1:])
    print(f"{status:>6} {seconds:>7.1f}s {peak:>7.0f} MB  {first[:110]}{leaked}")


if __name__ == "__main__":
    if "--one" in sys.argv:
        one()
    else:
        main()
