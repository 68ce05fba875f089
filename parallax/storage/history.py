"""Keeping runs: recording them as they happen, reopening them, and retrying only what failed."""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
from typing import Any

from parallax.config import Config
from parallax.reducers import reduce
from parallax.results import BranchResult
from parallax.run.events import Assessed
from parallax.run.execute import OnEvent, RunOutcome, execute, run_context
from parallax.run.plan import RunPlan
from parallax.run.spec import spec_of
from parallax.storage import RunRecord, StorageError, Store
from parallax.translate.judge import JudgeSample


class StoreRecorder:
    """Writes each finished branch, and the run's status at the end — from a writer thread, so the run's event loop
    never waits on the database. The thread takes what has arrived since its last commit and commits it as one
    group: a branch is on disk as soon as the commit before it is done (milliseconds; 200 ms at worst under heavy
    load), which is all a crash can lose. `finished` returns once everything is written.

    The first storage failure becomes a warning on the outcome; the run itself carries on unsaved.
    """

    FLUSH_TIMEOUT_S = 30.0

    def __init__(self, store: Store, finish: bool = True) -> None:
        self.store = store
        self.finish = finish  # False for a retry: the merged run is finished by retry_failed
        self._queue: queue.SimpleQueue[tuple[str, RunOutcome, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def _put(self, item: tuple[str, RunOutcome, Any]) -> None:
        with self._lock:
            self._queue.put(item)
            if self._writer is None:  # the thread lives while there is something to write, then ends
                self._writer = threading.Thread(target=self._write, name="parallax-history", daemon=True)
                self._writer.start()

    def branch(self, outcome: RunOutcome, result: BranchResult) -> None:
        self._put(("branch", outcome, result))

    def assessed(self, outcome: RunOutcome, assessed: Assessed) -> None:
        self._put(("assessed", outcome, assessed))

    def finished(self, outcome: RunOutcome) -> None:
        done = threading.Event()
        self._put(("finish" if self.finish else "flush", outcome, (outcome.aggregate, outcome.wall_ms,
                                                                   outcome.ordered(), done)))
        done.wait(self.FLUSH_TIMEOUT_S)

    def _write(self) -> None:
        while True:
            with self._lock:
                if self._queue.empty():
                    self._writer = None
                    return
            group = [self._queue.get()]
            while not self._queue.empty():
                group.append(self._queue.get_nowait())
            branches = [(o, r) for kind, o, r in group if kind == "branch"]
            if branches:
                outcome = branches[0][0]
                self._safely(outcome, self.store.save_branches, outcome.run_id, [r for _, r in branches])
            for kind, outcome, payload in group:
                if kind == "assessed":
                    for result in payload.results:
                        self._safely(outcome, self.store.update_branch, outcome.run_id, result)
                    self._safely(outcome, self.store.save_agreement, outcome.run_id, payload.matrix,
                                 payload.position_effect, [s.to_dict() for s in payload.judge_samples], payload.units)
                elif kind in ("finish", "flush"):
                    aggregate, wall_ms, results, done = payload
                    if kind == "finish":
                        self._safely(outcome, self.store.finish_run, outcome.run_id, aggregate, wall_ms, results)
                    done.set()

    @staticmethod
    def _safely(outcome: RunOutcome, write: Any, *args: Any) -> None:
        if outcome.storage_warning is not None:
            return
        try:
            write(*args)
        except StorageError as exc:
            outcome.storage_warning = f"Not saved to the history: {exc}"
        except Exception as exc:  # noqa: BLE001 - the writer thread must live on; the run is not lost
            outcome.storage_warning = f"Not saved to the history: {type(exc).__name__}: {exc}"


def record(plan: RunPlan, outcome: RunOutcome, store: Store | None, use_cache: bool = True) -> None:
    """Start keeping this run: written as `running` now, then branch by branch. Uses the cache if asked."""
    if store is None:
        outcome.storage_warning = "Not saved to the history: no history database is configured"
        return
    try:
        store.start_run(plan.run_id, plan.mode, plan.document, spec_of(plan).to_dict(), plan.branches)
    except StorageError as exc:
        outcome.storage_warning = f"Not saved to the history: {exc}"
        return
    outcome.recorder = StoreRecorder(store)
    plan.cache = store if use_cache else None


def save_run(store: Store, plan: RunPlan, outcome: RunOutcome) -> None:
    """Write a whole finished run at once (one kept in a session while the history was unreachable); a part
    of it written before the outage is replaced."""
    store.delete_run(outcome.run_id)
    store.start_run(plan.run_id, plan.mode, plan.document, spec_of(plan).to_dict(), plan.branches)
    results = outcome.ordered()
    if results:
        store.save_branches(outcome.run_id, results)
    if outcome.assessment is not None:
        store.save_agreement(outcome.run_id, outcome.assessment.matrix, outcome.assessment.position_effect,
                             [s.to_dict() for s in outcome.assessment.judge_samples], outcome.assessment.units)
    store.finish_run(outcome.run_id, outcome.aggregate, outcome.wall_ms, results)
    outcome.storage_warning = None


def outcome_from_record(record: RunRecord) -> RunOutcome:
    """A stored run in the same shape as a live one, for the same views and exports."""
    reducer = record.settings.get("reducer", "mean")
    results = dict(record.results)
    if record.status != "running":  # a killed run: the branches it never finished count, as cancelled
        for spec in record.branches:
            results.setdefault(spec.branch_id, BranchResult(
                spec.branch_id, spec.order, spec.engine, spec.perspective, spec.weight, status="cancelled",
                error="the run was interrupted before this branch finished"))
    outcome = RunOutcome(record.run_id, record.mode, reducer, record.branches, results=results,
                         document=record.input_text, settings=record.settings, created_at=record.created_at)
    outcome.arrival = [b.branch_id for b in sorted(record.results.values(), key=lambda r: r.ended_s or 0)]
    outcome.aggregate = record.aggregate or reduce(outcome.ordered(), reducer)
    outcome.wall_ms = record.wall_ms
    if record.mode == "translate":
        outcome.assessment = Assessed(outcome.ordered(), record.agreement,
                                      [JudgeSample.from_dict(s) for s in record.judge_samples],
                                      record.position_effect, record.units)
    return outcome


def plan_from_record(record: RunRecord, config: Config) -> RunPlan:
    """The stored run as a plan again, from its own spec (its perspectives as they were, whatever the
    configuration says now), for the branches not ok."""
    from parallax.run.spec import RunSpec, bind

    spec = RunSpec.from_dict(record.settings, record.mode, record.branches)
    failed = [b for b in spec.branches
              if record.results.get(b.branch_id) is None or record.results[b.branch_id].status != "ok"]
    return bind(spec, record.input_text, config, only=failed, run_id=record.run_id)


def to_retry(outcome: RunOutcome, record: RunRecord) -> tuple[list[BranchResult], bool]:
    """What "retry" would do for a stored run: the branches not ok, and whether the judge must judge again (a
    translation run with a judge whose judgement is missing for a translation that came back)."""
    failed = [r for r in outcome.ordered() if r.status != "ok"]
    judge = (record.settings.get("translation") or {}).get("judge")
    rejudge = bool(judge) and any(r.ok and r.judge_score is None and not r.non_translation and r.text.strip()
                                  for r in outcome.ordered())
    return failed, rejudge or bool(failed and judge)


def retry_label(failed: list[BranchResult], rejudge: bool) -> str:
    """The History button and the CLI say the same thing about what a retry does: a branch that was stopped is
    "cancelled", not "failed"."""
    cancelled = sum(r.status == "cancelled" for r in failed)
    kinds = [f"{n} {kind}" for n, kind in ((len(failed) - cancelled, "failed"), (cancelled, "cancelled")) if n]
    parts = [f"{' and '.join(kinds)} branch{'es' if len(failed) != 1 else ''}"] if failed else []
    if rejudge:
        parts.append("the judge")
    return " and ".join(parts) or "nothing to retry"


async def retry_failed(run_id: str, store: Store, config: Config, use_cache: bool = True,
                       on_event: OnEvent | None = None) -> RunOutcome:
    """Rerun only the branches whose status is not ok; the successful ones are not called again. A translation
    run whose judge failed is judged again (all translations together, as in the first run). `on_event` sees the
    retried branches' events as they happen (the app streams them into cards).

    Each retry is a new attempt of that branch in the history (the earlier attempts stay); the run's
    aggregate and status are recomputed over the latest attempt of every branch — also when the retry is
    stopped (its unfinished branches are then cancelled, and the run is no longer "running").
    """
    record = store.load_run(run_id)
    plan = plan_from_record(record, config)
    merged = outcome_from_record(record)
    if not plan.branches and not to_retry(merged, record)[1]:
        return merged
    store.reopen_run(run_id)
    plan.cache = store if use_cache else None
    judged = plan.settings
    if judged is not None:  # translations again first; the judge then sees all of them together, once
        plan.settings = dataclasses.replace(judged, judge=None)
    retried = RunOutcome.for_plan(plan)
    retried.recorder = StoreRecorder(store, finish=False)
    if plan.branches:
        try:
            await execute(plan, on_event, outcome=retried)
        except asyncio.CancelledError:
            merged.results.update(retried.results)
            store.finish_run(run_id, reduce(merged.ordered(), merged.reducer), record.wall_ms, merged.ordered())
            raise
    plan.settings = judged
    merged.results.update(retried.results)
    results = merged.ordered()
    if record.mode == "translate" and plan.settings is not None:
        assessed = await _reassess(plan, results)
        recorder = StoreRecorder(store, finish=False)
        recorder.assessed(merged, assessed)
        recorder.finished(merged)  # returns once written
        results = assessed.results
        merged.results = {r.branch_id: r for r in results}
        merged.assessment = assessed
    merged.aggregate = reduce(results, merged.reducer)
    merged.wall_ms = retried.wall_ms
    merged.storage_warning = retried.storage_warning
    store.finish_run(run_id, merged.aggregate, record.wall_ms, results)
    return merged


async def _reassess(plan: RunPlan, results: list[BranchResult]) -> Assessed:
    """Agreement and the judge are about all translations together: assess them again after a retry."""
    from parallax.translate.assess import assess

    assert plan.settings is not None
    return await assess(plan.document, results, plan.settings, run_context(plan), plan.run_id)
