"""Perspectives a text is reviewed from: the built-ins and custom ones from a TOML file."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Perspective:
    name: str
    description: str
    rubric: str
    weight: float = 1.0
    builtin: bool = False
    two_step: bool = False  # draft, then a self-check of the draft against the document


BUILTIN: dict[str, Perspective] = {
    p.name: p
    for p in (
        Perspective(
            "technical",
            "accuracy, precision and clarity for a technical reader",
            "- Claims are specific and backed by figures with units.\n"
            "- Terms and acronyms are defined; sentences are readable.\n"
            "- Nothing is ambiguous enough to be implemented two ways.",
            builtin=True,
        ),
        Perspective(
            "business",
            "value, audience and persuasiveness for a decision maker",
            "- The value to the reader is clear and quantified.\n"
            "- It speaks to a defined audience and ends with a clear next step.\n"
            "- It is confident without hedging or filler.",
            builtin=True,
        ),
        Perspective(
            "legal",
            "risk: promises, liability and personal data",
            "- No absolute promises (guarantee, always, unlimited, 100%).\n"
            "- Waivers, liability and warranty wording are deliberate and fair.\n"
            "- No personal data (e-mail addresses, phone numbers) is exposed.",
            builtin=True,
        ),
    )
}

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def parse_custom(table: dict[str, Any]) -> dict[str, Perspective]:
    """Custom perspectives from `[perspectives.NAME]` tables (description, rubric, weight)."""
    found: dict[str, Perspective] = {}
    for name, spec in table.items():
        if not _NAME.match(name):
            raise ValueError(f"perspective name {name!r}: use lowercase letters, digits, '-' or '_' (max 40)")
        if not isinstance(spec, dict) or not str(spec.get("rubric", "")).strip():
            raise ValueError(f"perspective {name!r} needs a rubric")
        weight = spec.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < math.inf:
            raise ValueError(f"perspective {name!r}: weight must be a finite number ≥ 0, not {weight!r}")
        found[name] = Perspective(name, str(spec.get("description", name)), str(spec["rubric"]).strip(),
                                  float(weight), two_step=bool(spec.get("two_step", False)))
    return found
