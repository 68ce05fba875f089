"""Perspectives a text is reviewed from: the built-ins and custom ones from a TOML file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError


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


def _rubric(value: str) -> str:
    if not value.strip():
        raise ValueError("needs a rubric")
    return value.strip()


class PerspectiveSpec(BaseModel):
    """A custom perspective as written in `[perspectives.NAME]` (or added on the page)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    description: str = ""
    rubric: Annotated[str, AfterValidator(_rubric)]
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    two_step: bool = False


def parse_custom(table: dict[str, Any]) -> dict[str, Perspective]:
    """Custom perspectives from `[perspectives.NAME]` tables; ValueError names the perspective and the problem."""
    found: dict[str, Perspective] = {}
    for name, spec in table.items():
        if not _NAME.match(name):
            raise ValueError(f"perspective name {name!r}: use lowercase letters, digits, '-' or '_' (max 40)")
        try:
            parsed = PerspectiveSpec.model_validate(spec)
        except ValidationError as exc:
            error = exc.errors()[0]
            setting = ".".join(str(p) for p in error["loc"])
            if error["type"] == "missing" or setting == "rubric":
                raise ValueError(f"perspective {name!r} needs a rubric") from None
            if error["type"] == "extra_forbidden":
                raise ValueError(f"perspective {name!r}: unknown setting {setting!r}; valid settings: "
                                 f"{', '.join(PerspectiveSpec.model_fields)}") from None
            if setting == "weight":
                raise ValueError(f"perspective {name!r}: weight must be a finite number ≥ 0, not "
                                 f"{error.get('input')!r}") from None
            raise ValueError(f"perspective {name!r}: {setting} = {error.get('input')!r}: "
                             f"{str(error['msg']).lower()}") from None
        found[name] = Perspective(name, parsed.description or name, parsed.rubric, parsed.weight,
                                  two_step=parsed.two_step)
    return found
