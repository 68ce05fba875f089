"""Scripted judges for the fake server: they read the candidates from the prompt, as a real judge would."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from tests.fakes.provider_server import Reply, ok

_BLOCK = re.compile(r'<translation label="([A-Z])">\n(.*?)\n</translation>', re.DOTALL)
_SEGMENT = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def candidates(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, translation) of the candidates in the last user message (the few-shot turns come before it); the
    translation is its numbered segments, "[1] …" a line."""
    return _BLOCK.findall(body["messages"][-1]["content"])


def segments(block: str) -> list[tuple[int, str]]:
    """(segment number, text) of a candidate's block."""
    return [(int(n), text) for n, text in _SEGMENT.findall(block)]


def error(span: str, severity: str, category: str = "accuracy/mistranslation",
          segment: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"span": span, "category": category, "severity": severity, "note": "scripted"}
    return found if segment is None else {"segment": segment, **found}


def position_biased(model: str, rng: random.Random, prefer_a: bool = True) -> Any:
    """A judge that prefers position A by 5 GEMBA points (a major error for every other position) over
    translations it cannot tell apart, with its own noise: 0–2 minor errors per candidate and segment at random.
    `prefer_a=False`: the noise alone."""

    def answer(asked: str, body: dict[str, Any]) -> Reply | None:
        if asked != model:
            return None
        entries = []
        for label, block in candidates(body):
            errors = []
            for number, text in segments(block):
                word = text.split()[0] if text.split() else ""
                errors += [error(word, "minor", "fluency/grammar", number) for _ in range(rng.randint(0, 2))]
                if prefer_a and label != "A":
                    errors.append(error(word, "major", segment=number))
            entries.append({"label": label, "errors": errors})
        return ok(json.dumps({"translations": entries}))

    return answer
