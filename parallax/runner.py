"""The one branch runner every engine goes through: deadline, timing, usage, retries, cost, error classification."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .engines.base import ATTEMPTS, Attempts, Engine, Finish, Request, Usage
from .judgement import Judgement, parse_judgement, reask_request
from .results import BranchResult, BranchSpec


@dataclass(frozen=True)
class BranchStarted:
    branch_id: str
    at_s: float


@dataclass(frozen=True)
class BranchDelta:
    branch_id: str
    text: str


@dataclass(frozen=True)
class BranchRestarted:
    """The branch is asking again (its reply did not parse): what was shown so far is replaced."""

    branch_id: str
    reason: str


@dataclass(frozen=True)
class BranchFinished:
    result: BranchResult


BranchEvent = BranchStarted | BranchDelta | BranchRestarted | BranchFinished
Emit = Callable[[BranchEvent], None]

_KEY_LIKE = re.compile(r"(sk-(?:ant-)?[A-Za-z0-9_*-]{6,}|Bearer\s+\S+|key-[A-Za-z0-9]{8,})")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove API keys (the configured ones, and anything shaped like one) from a message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_failure(exc: BaseException, provider: str, attempts: int, secrets: Iterable[str] = ()) -> str:
    """A short message for a failed call that names the provider and never contains a key."""
    tried = _plural(max(1, attempts), "attempt")
    code = getattr(exc, "status_code", None)
    name = type(exc).__name__
    message = _server_message(exc) if isinstance(exc, Exception) else ""
    if isinstance(code, int):
        if code == 429:
            text = f"rate limited after {tried}"
        elif code in (401, 403):
            text = f"authentication failed (HTTP {code}) — check the API key"
        elif getattr(exc, "code", None) == "context_length_exceeded" or re.search(
            r"prompt is too long|context length|context window|maximum context", message + str(exc), re.I
        ):
            text = "the text is too long for this model's context window"
        elif code >= 500:
            text = f"server error (HTTP {code}) after {tried}"
        elif code == 404:
            text = "model or endpoint not found (HTTP 404)"
        else:
            text = f"request rejected (HTTP {code})" + (f": {message}" if message else "")
    elif "Timeout" in name:
        text = "the server stopped responding"
    elif name in ("ConnectError", "RemoteProtocolError", "ReadError", "WriteError", "APIConnectionError"):
        # The SDKs wrap transport errors; the cause says whether we never connected or were cut off.
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else name
        if "Connect" in cause:
            text = f"could not connect after {tried}"
        else:
            text = "connection dropped mid-stream"
    elif isinstance(exc, json.JSONDecodeError) or name == "APIResponseValidationError":
        text = "the stream contained malformed data"
    elif name == "APIError":
        text = f"the stream reported an error: {message or exc}"
    else:
        text = f"{name}: {exc}"
    return redact(f"{provider}: {text}"[:300], secrets)


@dataclass(frozen=True)
class BranchJob:
    """Everything one branch needs: what to ask, whom, and the run's clock."""

    spec: BranchSpec
    request: Request
    engine: Engine
    deadline_s: float
    run_started: float  # loop.time() when the run began
    price: dict[str, float] | None = None
    secrets: tuple[str, ...] = ()
    parse: Callable[[str], Judgement] | None = parse_judgement


@dataclass
class _Tally:
    """What one branch accumulated across its asks: the current text, asks made, tokens reported."""

    parts: list[str] = field(default_factory=list)
    asks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    have_usage: bool = False

    def add_usage(self, usage: Usage) -> None:
        self.have_usage = True
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0


async def run_branch(job: BranchJob, emit: Emit) -> BranchResult:
    """Run one branch to a result. Every failure becomes a status; only cancellation propagates."""
    spec, engine = job.spec, job.engine
    loop = asyncio.get_running_loop()
    result = BranchResult(spec.branch_id, spec.order, spec.engine, spec.perspective, spec.weight)
    attempts = Attempts()
    ATTEMPTS.set(attempts)  # this task's own context: the engine's HTTP hook counts into it
    started = loop.time()
    result.started_s = started - job.run_started
    emit(BranchStarted(spec.branch_id, result.started_s))
    tally = _Tally()
    request = job.request
    try:
        async with asyncio.timeout(job.deadline_s):
            while True:
                tally.asks += 1
                finish: Finish | None = None
                async for event in engine.stream(request):
                    if isinstance(event, str):
                        if result.first_token_s is None:
                            result.first_token_s = loop.time() - job.run_started
                        tally.parts.append(event)
                        emit(BranchDelta(spec.branch_id, event))
                    elif isinstance(event, Usage):
                        tally.add_usage(event)
                    else:
                        finish = event
                text = "".join(tally.parts)
                if finish is None:
                    result.status = "truncated"
                    result.error = f"{engine.provider}: the stream ended before its final event"
                elif finish.reason == "length":
                    result.status, result.error = "truncated", f"{engine.provider}: cut off at the token limit"
                elif job.parse is None:
                    result.status = "ok"
                else:
                    try:
                        _apply(result, job.parse(text))
                    except ValueError as exc:
                        if tally.asks == 1:
                            emit(BranchRestarted(spec.branch_id, f"reply did not parse: {exc}"))
                            request = reask_request(request, text, str(exc))
                            tally.parts.clear()
                            continue
                        result.status, result.error = "error", f"{engine.provider}: unparseable judgement ({exc})"
                break
    except TimeoutError:
        result.status = "timeout"
        waited = f" ({_plural(attempts.count, 'attempt')} made)" if attempts.count > 1 else ""
        result.error = f"{engine.provider}: no complete answer within the {job.deadline_s:g} s deadline{waited}"
    except asyncio.CancelledError:
        result.status, result.error = "cancelled", "cancelled before it finished"
        _finish(result, job, tally, loop.time() - started, attempts)
        raise
    except Exception as exc:  # a branch failure is data, never an exception for the graph
        result.status = "error"
        result.error = describe_failure(exc, engine.provider, attempts.count, job.secrets)
    _finish(result, job, tally, loop.time() - started, attempts)
    emit(BranchFinished(result))
    return result


def _apply(result: BranchResult, judgement: Judgement) -> None:
    result.status = "ok"
    result.score = judgement.score
    result.summary = judgement.summary
    result.strengths = judgement.strengths
    result.issues = judgement.issues
    result.confidence = judgement.confidence


def _finish(result: BranchResult, job: BranchJob, tally: _Tally, elapsed: float, attempts: Attempts) -> None:
    result.text = "".join(tally.parts)
    result.latency_ms = round(elapsed * 1000, 1)
    if result.first_token_s is not None and result.started_s is not None:
        result.ttft_ms = round((result.first_token_s - result.started_s) * 1000, 1)
    result.ended_s = result.started_s + elapsed if result.started_s is not None else None
    result.retries = max(0, attempts.count - tally.asks)  # HTTP requests beyond one per ask
    if tally.have_usage:
        result.input_tokens, result.output_tokens = tally.input_tokens, tally.output_tokens
    if job.engine.free:
        result.cost_usd = 0.0
    elif job.price and tally.have_usage:
        price = job.price
        result.cost_usd = round((tally.input_tokens * price["input"] + tally.output_tokens * price["output"]) / 1e6, 8)
    if result.status != "ok":
        result.score = None
