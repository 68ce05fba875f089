"""The form inputs of a stored run: what a page's fields held when it ran, read back from its spec and text, so
that a refresh, a shared address or "edit and rerun" can put them back."""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parallax.perspectives import Perspective
from parallax.run.plan import RunPlan, plan_key
from parallax.run.spec import RunSpec
from parallax.translate.request import TranslationSettings

if TYPE_CHECKING:
    from parallax.config import Config
    from parallax.storage.runs import RunRecord


@dataclass(frozen=True)
class RunInputs:
    mode: str  # review | translate
    document: str
    perspectives: list[str]  # reviews: in the order they ran
    snapshots: dict[str, Perspective]  # the perspectives as the run used them
    engines: list[str]  # in the order they ran
    samples: int
    timeout_s: float
    concurrency: int | None
    translation: TranslationSettings | None
    key: str  # plan_key of the run: the page compares it with the key of what its fields hold now


def run_inputs(record: RunRecord, config: Config) -> RunInputs:
    """The inputs of a stored run. Its perspectives are its own snapshot; a run stored before snapshots were kept
    falls back on the configuration's. Raises ValueError when the stored settings cannot be read."""
    try:
        spec = RunSpec.from_dict(record.settings, record.mode, record.branches)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"its stored settings cannot be read ({type(exc).__name__}: {exc})") from None
    perspectives = list(dict.fromkeys(b.perspective for b in spec.branches)) if spec.mode == "review" else []
    # The key is computed by the same function as the page's, over a plan that binds no engine.
    known = {**config.perspectives, **spec.perspectives}
    plan = RunPlan(record.input_text, list(spec.branches), {}, dataclasses.replace(config, perspectives=known),
                   spec.reducer, spec.concurrency, spec.timeout_s, spec.mode, spec.translation, samples=spec.samples)
    return RunInputs(spec.mode, record.input_text, perspectives,
                     {name: known[name] for name in perspectives if name in known},
                     list(dict.fromkeys(b.engine for b in spec.branches)), spec.samples, spec.timeout_s,
                     spec.concurrency, spec.translation, plan_key(plan))


def glossary_text(glossary: tuple[tuple[str, str], ...]) -> str:
    """A glossary as the text `parse_glossary` reads back to the same pairs: `term,translation` lines (quoted
    where a comma or a quote needs it), a tab where the translation holds one."""
    lines = []
    for term, required in glossary:
        if "\t" in required:
            lines.append(f"{term}\t{required}")
            continue
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow([term, required])
        lines.append(out.getvalue())
    return "\n".join(lines)
