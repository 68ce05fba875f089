"""Fast start: commands and pages import only what they use; the history is written off the run's event loop."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from parallax.config import load_config
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review
from parallax.storage import Store
from parallax.storage.history import record

ROOT = Path(__file__).resolve().parent.parent
# plotly is not listed: Streamlit itself imports plotly.graph_objects.
HEAVY = ("langgraph", "langchain_core", "langsmith", "psycopg", "pandas", "openai", "anthropic")


def heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "PARALLAX_HOME": "/nonexistent-parallax-home"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_version_and_engines_import_nothing_heavy():
    for args in (["--version"], ["--help"], ["engines"]):
        code = (f"import io\nfrom parallax.cli import main\ntry:\n    main({args!r}, out=io.StringIO())\n"
                "except SystemExit:\n    pass")
        assert heavy_modules_after(code) == [], args


def test_the_core_never_imports_streamlit_or_the_apps_components():
    """parallax/ serves the CLI, tests and notebooks without Streamlit: no import of it anywhere below, even one
    inside a function (read from the source, so an import on a path no test takes is seen too)."""
    offending = []
    for path in sorted((ROOT / "parallax").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offending += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in ("streamlit", "components", "app_pages")]
    assert offending == []


def test_pages_draw_without_langgraph_pandas_or_the_database():
    code = ("import components.live, components.results, components.pickers, "
            "components.settings, components.inputs")
    assert heavy_modules_after(code) == []


def test_a_slow_database_does_not_slow_the_run(tmp_path):
    """Branches are written by a writer thread: the run's event loop never waits on a commit. The first commit is
    held until every branch has finished (bench/stalls.py measures what a slow database costs a run)."""
    store = Store(f"sqlite:///{tmp_path}/history.db")
    config = load_config(env={})
    engines = [f"sim:e{i}?latency={0.1 * i:.1f}&tokens=2&rate=100" for i in range(1, 7)]  # one ends first
    plan = plan_review("A short text.", config, ["technical"], engines)
    outcome = RunOutcome.for_plan(plan)
    record(plan, outcome, store, use_cache=False)
    written: list[int] = []
    ended_during_first_commit: list[bool] = []
    original = store.save_branches

    def all_ended() -> bool:
        return sum(r.ended_s is not None for r in outcome.ordered()) == len(plan.branches)

    def held_save(run_id, results):  # type: ignore[no-untyped-def]
        if not ended_during_first_commit:  # a commit that ends only once the branches have (or after 20 s)
            deadline = time.monotonic() + 20
            while not all_ended() and time.monotonic() < deadline:
                time.sleep(0.01)
            ended_during_first_commit.append(all_ended())
        written.append(len(results))
        return original(run_id, results)

    store.save_branches = held_save  # type: ignore[method-assign]
    asyncio.run(execute(plan, outcome=outcome))
    assert ended_during_first_commit == [True]  # every branch ended while the first commit was still under way
    assert sum(written) == 6 and len(written) < 6  # grouped: fewer commits than branches
    stored = store.load_run(plan.run_id)
    assert len(stored.results) == 6 and stored.status == "completed"  # everything written when the run returns
    assert outcome.storage_warning is None
