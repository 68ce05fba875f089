"""A position-biased judge over equal translations: how often does select-best name a winner with confidence?

    .venv/bin/python bench/judge_position.py [--runs 100] [--samples 1]

Real HTTP through the `openai` SDK to the loopback fake server (tests/fakes): three engines return the same
German translation of a 10-sentence text; the side-by-side judge (`--judge-protocol compare`: one call per
segment, positions rotated from segment to segment) gives every candidate outside position A one major error
(A is preferred by 5 GEMBA points) plus 0–2 minor errors of its own noise. Parallax tests the leader against
every other with paired permutation tests over the segments (Holm). Target: a confident winner in under 5% of
runs. For contrast, the same judge on three translations of which only one is right (the other two get a real
major error in every segment): how often the right one is named with confidence (the test's power).
Nothing is written to your history: no store is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parallax.config import load_config  # noqa: E402
from parallax.run.execute import execute  # noqa: E402
from parallax.run.plan import plan_translate  # noqa: E402
from parallax.translate.request import TranslationSettings  # noqa: E402
from tests.fakes.judges import candidates, error, position_biased, segments  # noqa: E402
from tests.fakes.provider_server import FakeProviders, ok  # noqa: E402
from tests.fakes.texts import GERMAN, SOURCE  # noqa: E402  (a 10-sentence text and its German translation)

ENGINES = ["openai:a", "openai:b", "openai:c"]


def series(fake: FakeProviders, runs: int, samples: int, texts: dict[str, str], real_error: bool,
           seed: int, prefer_a: bool = True) -> tuple[int, int, dict[str, list[float]], float]:
    bias = position_biased("judge", random.Random(seed), prefer_a)

    def answer(model: str, body: dict[str, object]) -> object:
        if model in texts:
            return ok(texts[model])
        if model != "judge":
            return None
        data = json.loads(bias(model, body).text)  # type: ignore[union-attr]
        if real_error:
            for entry, (_label, block) in zip(data["translations"], candidates(body), strict=True):
                for number, text in segments(block):
                    if text not in GERMAN:  # a wrong translation: a real major error in this segment
                        entry["errors"].append(error(text.split()[0], "major", segment=number))
        return ok(json.dumps(data))

    fake.answer = answer  # type: ignore[assignment]
    config = load_config(env={"OPENAI_API_KEY": "fake-bench-key", "OPENAI_BASE_URL": fake.openai_url})
    confident = right = 0
    effects: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for _ in range(runs):
        settings = TranslationSettings("en", "de", judge="openai:judge", judge_samples=samples,
                                       judge_protocol="compare")
        outcome = asyncio.run(execute(plan_translate(SOURCE, config, settings, ENGINES)))
        agg = outcome.aggregate
        assert agg is not None and outcome.assessment is not None
        confident += agg.confident is True
        right += agg.confident is True and agg.best == "openai:a"
        for label, value in outcome.assessment.position_effect.items():
            effects.setdefault(label, []).append(value)
    return confident, right, effects, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--samples", type=int, default=1)
    args = parser.parse_args()
    fake = FakeProviders()
    try:
        equal = {"a": GERMAN, "b": GERMAN, "c": GERMAN}
        n, _, effects, wall = series(fake, args.runs, args.samples, equal, False, 1)
        print(f"{args.runs} runs × 3 equal translations × k={args.samples}, judge biased to position A by 5 GEMBA "
              f"points ({wall:.1f} s, {fake.calls('judge')} judge calls over HTTP)")
        print(f"  a winner named with confidence: {n} of {args.runs} = {n / args.runs:.1%} (target < 5%)")
        mean = {label: sum(v) / len(v) for label, v in effects.items()}
        print("  measured position effect (mean over runs): "
              + ", ".join(f"{label} {value:+.1f}" for label, value in sorted(mean.items())))
        n, _, _, wall = series(fake, args.runs, args.samples, equal, False, 3, prefer_a=False)
        print(f"{args.runs} runs, the same equal translations, a judge with no position bias, noise only "
              f"(0–2 minor errors at random; {wall:.1f} s)")
        print(f"  a winner named with confidence: {n} of {args.runs} = {n / args.runs:.1%}")
        wrong = ". ".join(f"Falsch {sentence}" for sentence in GERMAN.split(". "))
        one_right = {"a": GERMAN, "b": wrong, "c": wrong.replace("Falsch", "Verkehrt")}
        n, right, _, wall = series(fake, args.runs, args.samples, one_right, True, 2)
        print(f"{args.runs} runs, one right translation and two with a real major error in every segment "
              f"({wall:.1f} s)")
        print(f"  the right one named with confidence: {right} of {args.runs} = {right / args.runs:.1%}; "
              f"any confident winner: {n}")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
