"""Do Parallax's verdicts agree with human experts? Measured on professional translators' MQM annotations.

Data: Freitag et al. (2021), "Experts, Errors, and Context: A Large-Scale Study of Human Evaluation for Machine
Translation" (arXiv:2104.14478), github.com/google/wmt-mqm-human-evaluation, Apache License 2.0:
  (a) newstest2021 en-de, `mqm_newstest2021_ende.avg_seg_scores.tsv` — one human MQM score per system and segment
      (no texts, no document ids);
  (b) TED talks en-de, `mqm_ted_ende.tsv` — every error the raters marked (severity and category per row).

For every document (a) or block and every pair of real MT systems (references and the WMT metrics task's
"metricsystem" outputs left out):
  - the human verdict: a paired permutation test (`parallax.stats.paired_tests`) on the humans' own per-segment MQM
    scores, the system with the higher mean as leader — a direction, and clear or not (Holm ≤ 5%);
  - Parallax's verdict with a judge that *replays the annotators' errors*: each segment's errors become GEMBA-MQM
    findings, scored by Parallax's own `mqm_score` (GEMBA's weights 25/5/1, first five errors, cap 25 per segment),
    and the real select-best reducer (`reduce(..., "best")`) picks the winner and says whether it is clear.

What this measures: the scoring (GEMBA weights and caps against MQM's), the pairing over segments and the statistics
that turn segment scores into "a clear winner" or "no clear winner". What it does not measure: whether an LLM judge
finds the errors a professional finds — the replay judge finds exactly the humans' errors.

    .venv/bin/python bench/validate_mqm.py              # both tables (~1 minute)
    .venv/bin/python bench/validate_mqm.py --blocks 20  # also 20-segment blocks inside the documents (slower)
    .venv/bin/python bench/validate_mqm.py --data DIR   # read the TSVs from DIR (same layout as the repository)
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parallax.reducers import reduce  # noqa: E402
from parallax.results import BranchResult, Finding  # noqa: E402
from parallax.stats import paired_tests  # noqa: E402
from parallax.translate.judge import mqm_score  # noqa: E402

MIRROR = Path("/work/.mirror/google+wmt-mqm-human-evaluation/repo")
NEWSTEST = "newstest2021/ende/mqm_newstest2021_ende.avg_seg_scores.tsv"
TED = "ted/ende/mqm_ted_ende.tsv"
CITATION = ("Freitag et al. 2021, Experts, Errors, and Context (arXiv:2104.14478); "
            "github.com/google/wmt-mqm-human-evaluation, Apache-2.0")
MIN_BLOCK = 10  # a remainder shorter than this joins the block before it


def is_mt_system(name: str) -> bool:
    """A submitted MT system: not a human reference (ref-A, ref.A, ref) nor a metrics-task output."""
    low = name.lower()
    return not (low == "ref" or low.startswith(("ref-", "ref.", "metricsystem")))


def read_data(path: str, data_dir: Path | None = None) -> str:
    """A file of the wmt-mqm-human-evaluation repository: from DIR, else from the read-only mirror (git show)."""
    if data_dir is not None:
        return (data_dir / path).read_text(encoding="utf-8")
    return subprocess.run(["git", "-C", str(MIRROR), "show", f"HEAD:{path}"], check=True, capture_output=True,
                          text=True, encoding="utf-8").stdout


# ---------------------------------------------------------------- the replay judge


def replay_penalty(penalty: float) -> list[Finding]:
    """GEMBA-style errors that reproduce a human MQM penalty (5 per major, 1 per minor): 25 or more is one
    critical error; otherwise floor(p / 5) majors and the rest, rounded half up, as minors. MQM's 0.1-point minor
    punctuation errors round away (GEMBA has no such weight); GEMBA's first-five-errors rule and its cap of 25
    then apply in `mqm_score`, as they would to an LLM judge's findings."""
    p = round(max(0.0, penalty), 1)
    if p >= 25:
        return [Finding("critical", "", "replayed")]
    majors = int(p // 5)
    minors = math.floor(p - 5 * majors + 0.5)
    return [Finding("major", "", "replayed")] * majors + [Finding("minor", "", "replayed")] * minors


def replay_rows(rows: Iterable[dict[str, str]]) -> list[Finding]:
    """The annotation rows of one segment as GEMBA findings: Major → major (a Non-translation → critical, as GEMBA
    treats it), Minor → minor (punctuation included: GEMBA weighs every minor 1), No-error and Neutral → nothing."""
    out: list[Finding] = []
    for row in rows:
        severity, category = row["severity"].strip().lower(), row["category"].strip().lower()
        if category.startswith("non-translation"):
            out.append(Finding("critical", "", category, category))
        elif severity in ("major", "minor"):
            out.append(Finding(severity, "", category, category))
    return out


def human_penalty(rows: Iterable[dict[str, str]]) -> float:
    """MQM's penalty as Freitag et al. weigh it: major 5, minor 1, minor Fluency/Punctuation 0.1, Non-translation
    25, Neutral and No-error 0."""
    total = 0.0
    for row in rows:
        severity, category = row["severity"].strip().lower(), row["category"].strip().lower()
        if category.startswith("non-translation"):
            total += 25
        elif severity == "major":
            total += 5
        elif severity == "minor":
            total += 0.1 if category == "fluency/punctuation" else 1
    return total


# ---------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Comparison:
    """One document (or block) × one pair of systems: the humans' verdict and Parallax's."""

    block: str
    a: str  # the humans' leader (higher human mean; a tie: the first name alphabetically)
    b: str
    n: int
    human_tie: bool
    human_clear: bool
    human_p: float
    parallax_best: str | None
    parallax_tie: bool
    parallax_confident: bool | None  # None: too few segments to tell
    human_lead: float = 0.0  # A's mean lead over B on the humans' scale (MQM points)
    parallax_p: float | None = None  # Holm p of Parallax's test (None: not tested)
    rescored: int = 0  # segments (of A or B) where Parallax's score is not 100 + 4 × the human score

    @property
    def parallax(self) -> str:
        """ "A" / "B": a clear winner (A is the humans' leader); "not clear"; "too short"."""
        if self.parallax_confident is None:
            return "too short"
        if not self.parallax_confident:
            return "not clear"
        return "A" if self.parallax_best == self.a else "B"


def human_verdict(a: str, b: str, human: dict[str, list[float]]) -> tuple[str, str, bool, bool, float]:
    """(leader, other, tie, clear, Holm p) from a paired permutation test on the humans' scores."""
    mean_a, mean_b = statistics.fmean(human[a]), statistics.fmean(human[b])
    leader, other = (a, b) if mean_a >= mean_b else (b, a)
    test = paired_tests({leader: human[leader], other: human[other]}, leader)[0]
    return leader, other, mean_a == mean_b, test.clear, test.p_adjusted


def parallax_verdict(order: Sequence[str], scores: dict[str, list[float]]
                     ) -> tuple[str | None, bool, bool | None, float | None]:
    """(best, tie, confident, Holm p) from the real select-best reducer over the replayed segment scores."""
    results = []
    for i, name in enumerate(order):
        mean = statistics.fmean(scores[name])
        results.append(BranchResult(branch_id=name, order=i, engine=name, perspective="translation", score=mean,
                                    judge_score=mean, segment_scores=list(scores[name])))
    agg = reduce(results, "best")
    return agg.best, agg.margin == 0, agg.confident, agg.p_value


def compare(block: str, human: dict[str, list[float]], replayed: dict[str, list[float]]) -> list[Comparison]:
    """Every pair of systems on one block. Parallax sees the pair in alphabetical order (its tie-break: the
    first declared wins)."""
    names = sorted(human)
    out = []
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            a, b, tie, clear, p = human_verdict(x, y, human)
            best, ptie, confident, parallax_p = parallax_verdict([x, y], replayed)
            lead = statistics.fmean(human[a]) - statistics.fmean(human[b])
            rescored = sum(abs(r - (100 + 4 * h)) > 1e-9 for s in (a, b) for h, r in zip(human[s], replayed[s],
                                                                                         strict=True))
            out.append(Comparison(block, a, b, len(human[x]), tie, clear, p, best, ptie, confident, round(lead, 3),
                                  parallax_p, rescored))
    return out


# ---------------------------------------------------------------- agreement


@dataclass
class Agreement:
    comparisons: list[Comparison] = field(default_factory=list)

    def count(self, human_clear: bool, parallax: str) -> int:
        return sum(c.human_clear == human_clear and c.parallax == parallax for c in self.comparisons)

    def direction(self, only_clear: bool = False) -> tuple[int, int]:
        """(agreeing, compared): Parallax's leader is the humans' leader, where neither side is a tie."""
        pool = [c for c in self.comparisons if not c.human_tie and not c.parallax_tie
                and (c.human_clear or not only_clear)]
        return sum(c.parallax_best == c.a for c in pool), len(pool)

    def clear_agreement(self) -> tuple[int, int]:
        """(agreeing, compared): both call a clear winner in the same direction, or neither calls one."""
        same = sum((c.human_clear and c.parallax == "A") or (not c.human_clear and c.parallax in ("not clear",
                                                                                               "too short"))
                   for c in self.comparisons)
        return same, len(self.comparisons)

    def table(self, title: str) -> str:
        cols = ("A", "B", "not clear", "too short")
        heads = ("Parallax: A clear", "Parallax: B clear", "Parallax: not clear", "Parallax: too short")
        width = max(len(h) for h in heads)
        lines = [title, f"{'':<26}" + "".join(f"{h:>{width + 2}}" for h in heads) + f"{'total':>8}"]
        for label, flag in (("humans: A clearly better", True), ("humans: not clear", False)):
            row = [self.count(flag, c) for c in cols]
            lines.append(f"{label:<26}" + "".join(f"{v:>{width + 2}}" for v in row) + f"{sum(row):>8}")
        d_all, n_all = self.direction()
        d_clear, n_clear = self.direction(only_clear=True)
        same, total = self.clear_agreement()
        ties_h = sum(c.human_tie for c in self.comparisons)
        ties_p = sum(c.parallax_tie for c in self.comparisons)
        lines += [
            "A = the system the humans' mean prefers, B = the other.",
            f"direction agreement: {pct(d_all, n_all)} of {n_all} comparisons (ties left out: {ties_h} human, "
            f"{ties_p} Parallax); on the {n_clear} the humans call clear: {pct(d_clear, n_clear)}",
            f"clear / not-clear agreement: {pct(same, total)} of {total} comparisons",
            f"Parallax clear against a human-clear winner: {self.count(True, 'B')}; "
            f"Parallax clear where the humans are not: {self.count(False, 'A') + self.count(False, 'B')}",
        ]
        return "\n".join(lines)

    def disagreements(self, limit: int = 12) -> str:
        """The comparisons where the humans' and Parallax's verdicts differ, with what differed in the scoring."""
        found = [c for c in self.comparisons if c.human_clear != (c.parallax == "A")]
        lines = [f"  {c.block}: {c.a} vs {c.b}, {c.n} segments: humans {'clear' if c.human_clear else 'not clear'}"
                 f" (lead {c.human_lead:g} MQM, p = {c.human_p:.3g}), Parallax {c.parallax} (best {c.parallax_best}"
                 f", p = {'-' if c.parallax_p is None else f'{c.parallax_p:.3g}'}); {c.rescored} of {2 * c.n} "
                 "segment scores not 100 + 4 × the human score" for c in found[:limit]]
        more = f"\n  … and {len(found) - limit} more" if len(found) > limit else ""
        return ("disagreements:\n" + "\n".join(lines) + more) if found else "disagreements: none"


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}% ({k}/{n})" if n else "n/a (0)"


# ---------------------------------------------------------------- blocks


def runs(ids: Sequence[int]) -> list[list[int]]:
    """Runs of consecutive ids (the rated newstest2021 segments come in runs: whole documents, or several)."""
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and i == out[-1][-1] + 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def cut(ids: Sequence[int], size: int) -> list[list[int]]:
    """Consecutive blocks of `size` ids; a remainder shorter than MIN_BLOCK joins the block before it."""
    blocks = [list(ids[i:i + size]) for i in range(0, len(ids), size)]
    if len(blocks) > 1 and len(blocks[-1]) < MIN_BLOCK:
        last = blocks.pop()
        blocks[-1] += last
    return blocks


# ---------------------------------------------------------------- (a) newstest2021: average segment scores


def parse_avg_scores(text: str) -> dict[str, dict[int, float | None]]:
    """`system<TAB>score seg_id` lines (the repository's own, oddly mixed separators; any whitespace works) into
    system → seg id → MQM score (negative: 0 is perfect); "None" is unrated. Lines starting with # are comments."""
    out: dict[str, dict[int, float | None]] = defaultdict(dict)
    for line in text.splitlines():
        parts = line.split()
        if not parts or line.startswith("#") or parts[0] == "system":
            continue
        system, score, seg = parts
        out[system][int(seg)] = None if score == "None" else float(score)
    return dict(out)


def newstest_blocks(scores: dict[str, dict[int, float | None]], size: int | None = None
                    ) -> list[tuple[str, dict[str, list[float]]]]:
    """Blocks of segments rated for every MT system: runs of consecutive seg ids (size None), or those runs cut
    into blocks of `size`. Each block: name, system → human scores in seg order."""
    systems = sorted(s for s in scores if is_mt_system(s))
    rated = [i for i in sorted(set().union(*(scores[s] for s in systems)))
             if all(scores[s].get(i) is not None for s in systems)]
    out = []
    for run in runs(rated):
        for block in ([run] if size is None else cut(run, size)):
            name = f"segs {block[0]}-{block[-1]}"
            out.append((name, {s: [float(scores[s][i]) for i in block] for s in systems}))  # type: ignore[arg-type]
    return out


def validate_avg_scores(text: str, size: int | None = None) -> Agreement:
    """(a): human scores as given; Parallax's from the replayed errors."""
    found = Agreement()
    for name, human in newstest_blocks(parse_avg_scores(text), size):
        replayed = {s: [mqm_score(replay_penalty(-v)) for v in values] for s, values in human.items()}
        found.comparisons += compare(name, human, replayed)
    return found


# ---------------------------------------------------------------- (b) TED: every annotated error


@dataclass
class TedSegment:
    doc: str
    seg: int
    rater: str
    rows: list[dict[str, str]]


def parse_ted(text: str) -> dict[str, dict[int, TedSegment]]:
    """system → seg id → its annotation rows (each system's segment has exactly one rater in this file)."""
    out: dict[str, dict[int, TedSegment]] = defaultdict(dict)
    for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        seg = int(row["seg_id"])
        found = out[row["system"]].setdefault(seg, TedSegment(row["doc"], seg, row["rater"], []))
        if found.rater != row["rater"]:
            raise ValueError(f"{row['system']} segment {seg}: several raters; choose one or average")
        found.rows.append(row)
    return dict(out)


def validate_ted(text: str, size: int | None = None) -> tuple[Agreement, str]:
    """(b): talks as documents (or `size`-segment blocks inside each talk); human scores from the rows with MQM's
    weights, Parallax's from the same rows replayed as GEMBA findings and scored by `mqm_score`."""
    data = parse_ted(text)
    systems = sorted(s for s in data if is_mt_system(s))
    docs: dict[str, list[int]] = defaultdict(list)
    for seg in sorted(set().union(*(data[s] for s in systems))):
        if all(seg in data[s] for s in systems):
            docs[data[systems[0]][seg].doc].append(seg)
    found = Agreement()
    for doc, segs in docs.items():
        for block in ([segs] if size is None else cut(segs, size)):
            name = doc if size is None else f"{doc} segs {block[0]}-{block[-1]}"
            human = {s: [-human_penalty(data[s][i].rows) for i in block] for s in systems}
            replayed = {s: [mqm_score(replay_rows(data[s][i].rows)) for i in block] for s in systems}
            found.comparisons += compare(name, human, replayed)
    raters = {seg: {data[s][seg].rater for s in systems} for seg in data[systems[0]]}
    note = (f"{len(systems)} MT systems, {len(docs)} talks, {sum(map(len, docs.values()))} segments "
            f"({', '.join(f'{d}: {len(v)}' for d, v in docs.items())}); one rater per system and segment "
            f"(no choice or averaging needed), {statistics.fmean(len(r) for r in raters.values()):.1f} different "
            f"raters per segment across the systems")
    return found, note


def check_ted_scores(text: str, data_dir: Path | None) -> str:
    """How many TED segment scores recomputed from the rows match the repository's own average scores."""
    try:
        avg = parse_avg_scores(read_data(TED.replace(".tsv", ".avg_seg_scores.tsv"), data_dir))
    except (OSError, subprocess.CalledProcessError):
        return "TED avg_seg_scores not available: recomputed scores not checked"
    data = parse_ted(text)
    pairs = [(-human_penalty(seg.rows), avg[s].get(i)) for s, segs in data.items() if s in avg
             for i, seg in segs.items()]
    same = sum(b is not None and abs(a - b) < 1e-6 for a, b in pairs)
    return (f"human TED scores recomputed from the rows match mqm_ted_ende.avg_seg_scores.tsv on "
            f"{pct(same, len(pairs))} system-segments (the {len(set(data) & set(avg))} systems named in both files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=None, help="also cut every document into blocks of N segments")
    parser.add_argument("--data", type=Path, default=None, help="a local copy of google/wmt-mqm-human-evaluation")
    args = parser.parse_args()
    print(f"Data: {CITATION}\n")
    started = time.perf_counter()
    newstest = read_data(NEWSTEST, args.data)
    scores = parse_avg_scores(newstest)
    blocks = newstest_blocks(scores)
    sizes = [len(next(iter(h.values()))) for _, h in blocks]
    print(f"(a) newstest2021 en-de ({NEWSTEST}): {len([s for s in scores if is_mt_system(s)])} MT systems, "
          f"{sum(sizes)} segments rated for all of them; no document ids in this file, so the documents are the "
          f"{len(blocks)} runs of consecutive rated seg ids ({min(sizes)}-{max(sizes)} segments, median "
          f"{statistics.median(sizes):g}). Human scores: the file's per-segment MQM; Parallax: those penalties "
          "replayed as GEMBA errors (p -> floor(p/5) majors + round(p mod 5) minors, 25 -> critical).")
    newstest_agreement = validate_avg_scores(newstest)
    print(newstest_agreement.table("\nnewstest2021 en-de, runs of consecutive rated segments × pairs"))
    print(newstest_agreement.disagreements())
    if args.blocks:
        print(validate_avg_scores(newstest, args.blocks).table(
            f"\nnewstest2021 en-de, the runs cut into {args.blocks}-segment blocks × pairs"))
    ted = read_data(TED, args.data)
    agreement, note = validate_ted(ted)
    print(f"\n(b) TED talks en-de ({TED}): {note}. Human scores: MQM weights from the rows (major 5, minor 1, "
          "minor punctuation 0.1); Parallax: the same rows as GEMBA findings (major 5, minor 1, first five, cap 25) "
          f"scored by mqm_score.\n{check_ted_scores(ted, args.data)}")
    print(agreement.table("\nTED en-de, talks × pairs"))
    print(agreement.disagreements())
    if args.blocks:
        print(validate_ted(ted, args.blocks)[0].table(f"\nTED en-de, {args.blocks}-segment blocks of talks × pairs"))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
