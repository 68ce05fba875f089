"""`sim:LABEL?latency=S&tokens=N&rate=TPS&fail=KIND&score=X` — a simulated model for demos, tests and benchmarks."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

from parallax.engines.base import Engine, Event, Finish, Request, Usage

FAILS = ("error", "timeout", "truncate", "ratelimit")
_WORDS = "simulated output for demos tests and benchmarks no model was called".split()


class SimulatedError(Exception):
    """A failure the simulation was asked for; the runner classifies it like a provider's."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class SimSettings:
    label: str
    latency: float = 0.5
    tokens: int = 40
    rate: float = 50.0
    fail: str | None = None
    score: float | None = None


def parse_sim(spec: str) -> SimSettings:
    """Parse the part after `sim:`; raise ValueError naming the bad option."""
    label, _, query = spec.partition("?")
    if not label:
        raise ValueError("sim engine needs a label, e.g. sim:fast?latency=0.5")
    values: dict[str, object] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        try:
            if key in ("latency", "rate", "score"):
                values[key] = float(raw)
            elif key == "tokens":
                values[key] = int(raw)
            elif key == "fail":
                if raw not in FAILS:
                    raise ValueError
                values[key] = raw
            else:
                raise KeyError(key)
        except ValueError:
            raise ValueError(f"sim option {key}={raw!r} is not valid") from None
        except KeyError:
            raise ValueError(f"unknown sim option {key!r}; use latency, tokens, rate, fail, score") from None
    settings = SimSettings(label, **values)  # type: ignore[arg-type]
    if settings.latency < 0 or settings.tokens < 1 or settings.rate <= 0:
        raise ValueError("sim options need latency ≥ 0, tokens ≥ 1, rate > 0")
    if settings.score is not None and not 0 <= settings.score <= 10:
        raise ValueError("sim score must be between 0 and 10")
    if settings.fail and settings.fail not in FAILS:
        raise ValueError(f"sim fail must be one of {', '.join(FAILS)}")
    return settings


def _stable_score(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return round(4 + 5 * digest[0] / 255, 1)


class SimEngine(Engine):
    provider = "Simulated"
    free = True
    kinds = frozenset({"review", "translate", "judge"})
    streams = True

    def __init__(self, engine_id: str, settings: SimSettings) -> None:
        self.engine_id, self.settings = engine_id, settings
        self.model = settings.label

    def _body(self, request: Request) -> str:
        s, task = self.settings, request.task
        if task.kind == "translate":
            # Deterministic and label-dependent, so engines agree in part: every k-th word is marked. Each word is
            # spelt backwards, so the simulation is not a copy of the source (which Parallax flags and never
            # picks as the best translation).
            k = 3 + hashlib.sha256(s.label.encode()).digest()[0] % 5

            def backwards(word: re.Match[str]) -> str:  # capitals stay first: sentences still start as sentences
                text = word.group()[::-1]
                return text[0].upper() + text[1:].lower() if word.group()[0].isupper() else text

            lines = []
            for line in task.document.splitlines():
                words = [re.sub(r"\w+", backwards, w) for w in line.split()]
                lines.append(" ".join(f"~{w}~" if i % k == k - 1 else w for i, w in enumerate(words)))
            return f"[simulated {task.target}] " + "\n".join(lines)
        if task.kind == "judge":
            blocks = re.findall(r'<translation label="([A-Z])">\n(.*?)\n</translation>', request.messages[-1].content,
                                re.DOTALL)
            entries = []
            for label, block in blocks:
                errors = []
                for number, text in re.findall(r"^\[(\d+)\] (.*)$", block, re.MULTILINE):
                    n = hashlib.sha256(f"{s.label}{text}".encode()).digest()[0] % 3
                    errors += [{"segment": int(number), "span": text.split()[0] if text.split() else "",
                                "category": "fluency/grammar", "severity": "minor",
                                "note": "Simulated finding — no model was called."}] * n
                    if text.startswith("[!!"):  # as a real judge would: pseudo-localised text is not a translation
                        errors.append({"segment": int(number), "span": text[:20], "category": "non-translation",
                                       "severity": "critical", "note": "Pseudo-localised text, not a translation."})
                entries.append({"label": label, "errors": errors})
            return json.dumps({"translations": entries})
        score = s.score if s.score is not None else _stable_score(s.label, task.perspective)
        filler = " ".join(_WORDS[i % len(_WORDS)] for i in range(max(1, s.tokens - 2)))
        return json.dumps(
            {
                "summary": f"[simulated] {s.label} on {task.perspective}: {filler}",
                "strengths": ["Simulated — no model was called."],
                "issues": [],
                "score": score,
                "confidence": 0.5,
            }
        )

    def _tokens(self, request: Request) -> list[str]:
        body = self._body(request)
        # Cut the body into exactly `tokens` pieces so the stream has the requested length.
        n = self.settings.tokens
        bounds = [round(i * len(body) / n) for i in range(n + 1)]
        return [body[bounds[i] : bounds[i + 1]] for i in range(n)]

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        s = self.settings
        loop = asyncio.get_running_loop()
        await asyncio.sleep(s.latency)
        if s.fail == "ratelimit":
            raise SimulatedError("rate limited (simulated 429)", status_code=429)
        if s.fail == "error":
            raise SimulatedError("server error (simulated 500)", status_code=500)
        tokens = self._tokens(request)
        stop_at = len(tokens) // 2 if s.fail in ("timeout", "truncate") else len(tokens)
        start = loop.time()
        for i, token in enumerate(tokens[:stop_at]):
            # Absolute schedule: sleeping per token would drift and run slower than `rate`.
            delay = start + i / s.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield token
        if s.fail == "timeout":
            await asyncio.Event().wait()  # stall until the branch deadline cuts it
        yield Usage(len(request.task.document) // 4, stop_at)
        if s.fail != "truncate":
            yield Finish("stop")
