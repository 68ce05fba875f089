"""Perspectives a text is reviewed from: the built-ins and custom ones from a TOML file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from parallax.validation import problem


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

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class PerspectiveSpec(BaseModel):
    """A custom perspective as written in `[perspectives.NAME]` (or added on the page)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)  # built when a file is read
    description: str = ""
    rubric: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    two_step: bool = False


def custom_perspective(name: str, spec: PerspectiveSpec) -> Perspective:
    if not NAME.match(name):
        raise ValueError(f"perspective name {name!r}: use lowercase letters, digits, '-' or '_' (max 40)")
    return Perspective(name, spec.description or name, spec.rubric, spec.weight, two_step=spec.two_step)


def parse_custom(table: dict[str, Any]) -> dict[str, Perspective]:
    """Custom perspectives from `[perspectives.NAME]` tables; ValueError names the perspective and the problem."""
    found: dict[str, Perspective] = {}
    for name, spec in table.items():
        try:
            parsed = PerspectiveSpec.model_validate(spec)
        except ValidationError as exc:
            error = exc.errors()[0]
            setting = ".".join(str(p) for p in error["loc"])
            raise ValueError(f"perspective {name!r} {problem(error, setting, PerspectiveSpec.model_fields)}") from None
        found[name] = custom_perspective(name, parsed)
    return found
