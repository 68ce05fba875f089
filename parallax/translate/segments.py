"""Segments: the source split into sentences, each translation aligned to them, and the units every candidate can be
scored on side by side.

Sentences come from `sentencex` (Wikimedia's segmenter, ~300 languages). A translation is aligned to the source
sentences with a length-based dynamic program in the manner of Gale & Church (1993): beads of 1-1, 1-2, 2-1, 2-2,
1-0 and 0-1 sentences, each costed by how well the lengths match and by how common the bead is. Where a candidate
joined two source sentences into one (or split one into two), those source sentences form one *unit* for every
candidate, so that scores are always paired over the same source text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Prior probability of each bead (source sentences, target sentences), after Gale & Church's counts.
BEADS: dict[tuple[int, int], float] = {(1, 1): 0.89, (1, 2): 0.0445, (2, 1): 0.0445, (2, 2): 0.011,
                                       (1, 0): 0.005, (0, 1): 0.005, (1, 3): 0.002, (3, 1): 0.002}
# A translation whose sentences match the source's this badly (share of source sentences left without any) is not
# cut at all: it is one unit with the whole source, and so is every other candidate's text.
UNMATCHED_MAX = 0.25
VARIANCE = 6.8  # Gale & Church's variance of the target length per source character
BAND = 30  # the alignment path stays within this many sentences of the diagonal (long documents stay linear)


def split_sentences(text: str, language: str) -> list[str]:
    """The text's sentences (stripped, none empty), by sentencex; a language it does not know falls back to its
    default rules."""
    from sentencex import segment

    code = language.replace("_", "-").split("-")[0].lower() or "en"
    out: list[str] = []
    for paragraph in text.splitlines():
        if paragraph.strip():
            out += [s.strip() for s in segment(code, paragraph) if s.strip()]
    return out


@dataclass(frozen=True)
class Bead:
    """Source sentences [s0, s1) matched with target sentences [t0, t1); `match` is how well their lengths agree
    (1: exactly as expected; 0.05: a length this far off happens 1 time in 20)."""

    s0: int
    s1: int
    t0: int
    t1: int
    match: float


def _match(source_len: int, target_len: int, ratio: float) -> float:
    if source_len == 0 and target_len == 0:
        return 1.0
    mean = (source_len + target_len / ratio) / 2
    delta = (target_len - source_len * ratio) / math.sqrt(VARIANCE * max(mean, 1.0))
    return math.erfc(abs(delta) / math.sqrt(2))  # two-sided tail of the standard normal


def align(source: list[str], target: list[str]) -> list[Bead]:
    """The most probable sequence of beads covering both sentence lists, in order."""
    n, m = len(source), len(target)
    if not n or not m:
        return [Bead(0, n, 0, m, 1.0 if n == m else 0.0)] if n or m else []
    ls, lt = [len(s) for s in source], [len(t) for t in target]
    ratio = max(sum(lt), 1) / max(sum(ls), 1)
    cs, ct = [0], [0]
    for x in ls:
        cs.append(cs[-1] + x)
    for x in lt:
        ct.append(ct[-1] + x)
    band = max(BAND, abs(n - m) + 5)
    inf = float("inf")
    cost: dict[tuple[int, int], float] = {(0, 0): 0.0}
    back: dict[tuple[int, int], tuple[int, int, float]] = {}
    for i in range(n + 1):
        centre = i * m / n
        for j in range(max(0, int(centre) - band), min(m, int(centre) + band) + 1):
            if i == 0 and j == 0:
                continue
            best, choice = inf, None
            for (di, dj), prior in BEADS.items():
                pi, pj = i - di, j - dj
                before = cost.get((pi, pj))
                if pi < 0 or pj < 0 or before is None:
                    continue
                p = _match(cs[i] - cs[pi], ct[j] - ct[pj], ratio)
                total = before - math.log(prior) - math.log(max(p, 1e-12))
                if total < best:
                    best, choice = total, (pi, pj, p)
            if choice is not None:
                cost[(i, j)], back[(i, j)] = best, choice
    beads: list[Bead] = []
    i, j = n, m
    while (i, j) != (0, 0):
        pi, pj, p = back[(i, j)]
        beads.append(Bead(pi, i, pj, j, round(p, 3)))
        i, j = pi, pj
    return beads[::-1]


def _or_whole(beads: list[Bead], n: int, m: int) -> list[Bead]:
    unmatched = sum(b.s1 - b.s0 for b in beads if b.t1 == b.t0)
    if n > 1 and unmatched > UNMATCHED_MAX * n:
        return [Bead(0, n, 0, m, 0.0)]
    return beads


@dataclass
class Segmented:
    """The source cut into units (one or more sentences each) and every candidate's text on each unit."""

    units: list[str]  # source text per unit
    texts: dict[str, list[str]] = field(default_factory=dict)  # candidate → its text per unit ("" where it has none)
    beads: dict[str, list[Bead]] = field(default_factory=dict)  # candidate → its alignment to the source sentences

    def alignment(self, candidate: str) -> dict[str, object]:
        """How the candidate was aligned: bead shapes counted, and the lowest length match."""
        beads = self.beads.get(candidate, [])
        shapes: dict[str, int] = {}
        for b in beads:
            key = f"{b.s1 - b.s0}-{b.t1 - b.t0}"
            shapes[key] = shapes.get(key, 0) + 1
        return {"beads": shapes, "lowest_match": min((b.match for b in beads), default=None)}


def segment_candidates(source: str, candidates: dict[str, str], source_lang: str, target_lang: str) -> Segmented:
    """Split the source, align each candidate, and join source sentences that any candidate joined (or that a
    sentence of any candidate spans), so that every unit is scored for every candidate over the same source."""
    sentences = split_sentences(source, source_lang) or [source.strip()]
    targets = {c: split_sentences(text, target_lang) or [text.strip()] for c, text in candidates.items()}
    aligned = {c: _or_whole(align(sentences, target), len(sentences), len(target)) for c, target in targets.items()}
    # A cut between source sentences k-1 and k is kept only if no candidate's bead spans it.
    cuts = set(range(1, len(sentences)))
    for beads in aligned.values():
        for b in beads:
            cuts -= set(range(b.s0 + 1, b.s1))
    bounds = [0, *sorted(cuts), len(sentences)]
    units = [" ".join(sentences[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    unit_of = {k: u for u, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)) for k in range(a, b)}
    out = Segmented(units)
    for c, target in targets.items():
        pieces: list[list[str]] = [[] for _ in units]
        for b in aligned[c]:
            # A target sentence with no source (0-1) joins the unit of the source sentence before it.
            u = unit_of.get(b.s0 if b.s1 > b.s0 else max(b.s0 - 1, 0), 0)
            pieces[u] += target[b.t0:b.t1]
        out.texts[c] = [" ".join(p) for p in pieces]
        out.beads[c] = aligned[c]
    return out
