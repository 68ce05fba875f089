"""The review graph: fan-out with Send, results merged whatever their arrival order, one deferred aggregate."""

from __future__ import annotations

import asyncio

from parallax.config import load_config
from parallax.run.events import BranchFinished, BranchStarted
from parallax.run.execute import RunFinished, stream_run
from parallax.run.graph import build_review_graph
from parallax.run.plan import plan_review


def test_diagram_shows_fan_out_and_fan_in():
    mermaid = build_review_graph().get_graph().draw_mermaid()
    for node in ("__start__", "run_branch", "draft", "check", "aggregate", "defer = True"):
        assert node in mermaid


async def test_uneven_branches_are_aggregated_once_after_all_finish():
    config = load_config(env={})
    engines = ["sim:slow?latency=0.4&tokens=3", "sim:fast?latency=0&tokens=3", "sim:mid?latency=0.2&tokens=3"]
    plan = plan_review("A text.", config, ["technical"], engines)
    events = [e async for e in stream_run(plan)]
    finished = [e.result.engine for e in events if isinstance(e, BranchFinished)]
    assert finished == [engines[1], engines[2], engines[0]]  # arrival order is not declared order
    assert isinstance(events[-1], RunFinished)
    assert sum(isinstance(e, RunFinished) for e in events) == 1  # defer=True: the aggregate ran once
    agg = events[-1].aggregate
    assert (agg.n_ok, agg.n_total) == (3, 3)
    scores = [
        e.result.score
        for e in sorted((e for e in events if isinstance(e, BranchFinished)), key=lambda e: e.result.order)
    ]
    assert agg.formula.startswith("mean(" + ", ".join(f"{s:g}" for s in scores) + ")")


async def test_branches_run_at_the_same_time():
    plan = plan_review(
        "A text.", load_config(env={}), ["technical", "business", "legal"], ["sim:a?latency=0.3&tokens=2&rate=100"]
    )
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    events = [e async for e in stream_run(plan)]
    starts = [e.at_s for e in events if isinstance(e, BranchStarted)]
    assert len(starts) == 3 and max(starts) < 0.1  # all started before any finished
    assert loop.time() - t0 < 0.6  # three 0.3 s branches in about the time of one


async def test_a_two_step_perspective_is_waited_for_and_keeps_both_steps():
    from components.charts import timeline
    from parallax.perspectives import Perspective

    config = load_config(env={})
    config.perspectives["careful"] = Perspective("careful", "checked twice", "- Check twice.", two_step=True)
    plan = plan_review("We guarantee uptime.", config, ["legal", "careful"], ["sim:s?latency=0.2&tokens=4&rate=100"])
    events = [e async for e in stream_run(plan)]
    finished = {e.result.perspective: e.result for e in events if isinstance(e, BranchFinished)}
    assert sum(isinstance(e, RunFinished) for e in events) == 1 and isinstance(events[-1], RunFinished)
    assert events[-1].aggregate.n_total == 2  # the aggregate waited for the two-step branch
    careful, legal = finished["careful"], finished["legal"]
    assert [s["step"] for s in careful.steps] == ["draft", "check"] and legal.steps == []
    assert careful.steps[1]["started_s"] >= careful.steps[0]["ended_s"]
    assert careful.latency_ms > 1.8 * legal.latency_ms  # uneven lengths: two calls one after the other
    assert careful.output_tokens == 2 * legal.output_tokens  # both steps counted
    names = {trace.name for trace in timeline(list(finished.values())).data}
    assert {"draft step", "check step", "streaming"} <= names
