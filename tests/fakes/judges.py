"""Scripted judges for the fake server: they read the candidates from the prompt, as a real judge would."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from tests.fakes.provider_server import Reply, ok

_BLOCK = re.compile(r'<translation label="([A-Z])">\n(.*?)\n</translation>', re.DOTALL)


def candidates(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, translation) of the candidates in the last user message (the few-shot turns come before it)."""
    return _BLOCK.findall(body["messages"][-1]["content"])


def error(span: str, severity: str, category: str = "accuracy/mistranslation") -> dict[str, str]:
    return {"span": span, "category": category, "severity": severity, "note": "scripted"}


def position_biased(model: str, rng: random.Random, prefer_a: bool = True) -> Any:
    """A judge that prefers position A by 5 GEMBA points (a major error for every other position) over
    translations it cannot tell apart, with its own noise: 0–2 minor errors per candidate at random.
    `prefer_a=False`: the noise alone."""

    def answer(asked: str, body: dict[str, Any]) -> Reply | None:
        if asked != model:
            return None
        entries = []
        for label, text in candidates(body):
            word = text.split()[0] if text.split() else ""
            errors = [error(word, "minor", "fluency/grammar") for _ in range(rng.randint(0, 2))]
            if prefer_a and label != "A":
                errors.append(error(word, "major"))
            entries.append({"label": label, "errors": errors})
        return ok(json.dumps({"translations": entries}))

    return answer
