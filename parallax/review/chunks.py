"""Long documents as map-reduce: split into overlapping chunks on paragraph and sentence boundaries, review
each chunk on its own branch, then merge the chunk results of each branch."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from parallax.costs import summed
from parallax.results import BranchResult, Finding
from parallax.run.failures import plural

OVERLAP_CHARS = 300  # at most; a tenth of the chunk size for small chunks
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    index: int  # 1-based
    start: int  # character offsets in the document
    end: int
    text: str


def chunk_chars() -> int:
    """The chunk size for long documents (PARALLAX_CHUNK_CHARS), read when used, not at import."""
    return int(os.environ.get("PARALLAX_CHUNK_CHARS", "12000"))


def _pieces(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) spans no longer than `size`: paragraphs, else sentences, else hard cuts."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]*)*", text):
        if para.end() - para.start() <= size:
            spans.append((para.start(), para.end()))
            continue
        pos = para.start()
        for sentence_end in (m.start() for m in _SENTENCE_END.finditer(text, para.start(), para.end())):
            spans.append((pos, sentence_end))
            pos = sentence_end
        spans.append((pos, para.end()))
    out: list[tuple[int, int]] = []
    for start, end in spans:
        while end - start > size:  # one sentence longer than a chunk: cut it
            out.append((start, start + size))
            start += size
        if end > start:
            out.append((start, end))
    return out


def split_text(text: str, size: int | None = None, overlap: int | None = None) -> list[Chunk]:
    """Chunks of at most ~`size` characters (default chunk_chars()) that end on paragraph or sentence
    boundaries, each starting a little before the previous one ended (`overlap`) so nothing is judged
    without its context."""
    size = size or chunk_chars()
    overlap = min(OVERLAP_CHARS, size // 10) if overlap is None else overlap
    if len(text) <= size:
        return [Chunk(1, 0, len(text), text)]
    pieces = _pieces(text, max(1, size - overlap))
    spans: list[tuple[int, int]] = []
    start, end = pieces[0]
    for piece_start, piece_end in pieces[1:]:
        if piece_end - start <= size:
            end = piece_end
            continue
        spans.append((start, end))
        # The next chunk repeats the end of this one (from a word boundary) so nothing loses its context.
        begin = max(end - overlap, start + 1)
        space = text.find(" ", begin, piece_start)
        start, end = (space + 1 if space != -1 else piece_start), piece_end
    spans.append((start, end))
    return [Chunk(i, s, e, text[s:e]) for i, (s, e) in enumerate(spans, start=1)]


def merge_chunks(parts: list[tuple[Chunk, BranchResult]]) -> BranchResult:
    """One branch's result from its chunks: score weighted by chunk length, issues merged and de-duplicated,
    time from the first start to the last end, tokens and cost summed."""
    parts = sorted(parts, key=lambda p: p[0].index)
    first = parts[0][1]
    n = len(parts)
    failed = [(c, r) for c, r in parts if r.status != "ok" or r.score is None]
    merged = replace(first, chunk=None, chunks=n, text="\n\n".join(f"[chunk {c.index} of {n}]\n{r.text}"
                                                                 for c, r in parts))
    merged.chunk_results = [{"chunk": c.index, "start": c.start, "end": c.end, "status": r.status, "score": r.score,
                             "summary": r.summary, "error": r.error} for c, r in parts]
    seen: set[tuple[str, str, str]] = set()
    issues: list[Finding] = []
    for c, r in parts:
        for f in r.issues:
            key = (f.severity, f.quote.strip().lower(), f.note.strip().lower())
            if key not in seen:
                seen.add(key)
                issues.append(replace(f, chunk=c.index))
    merged.issues = issues
    merged.strengths = list(dict.fromkeys(s for _, r in parts for s in r.strengths))
    merged.summary = " ".join(f"[{c.index}/{n}] {r.summary}" for c, r in parts if r.summary)
    starts = [r.started_s for _, r in parts if r.started_s is not None]
    ends = [r.ended_s for _, r in parts if r.ended_s is not None]
    merged.started_s, merged.ended_s = min(starts, default=None), max(ends, default=None)
    firsts = [r.first_token_s for _, r in parts if r.first_token_s is not None]
    merged.first_token_s = min(firsts, default=None)
    if merged.started_s is not None and merged.ended_s is not None:
        merged.latency_ms = round((merged.ended_s - merged.started_s) * 1000, 1)
    if merged.first_token_s is not None and merged.started_s is not None:
        merged.ttft_ms = round((merged.first_token_s - merged.started_s) * 1000, 1)
    merged.retries = sum(r.retries for _, r in parts)
    for name in ("input_tokens", "output_tokens"):
        values = [getattr(r, name) for _, r in parts]
        setattr(merged, name, None if None in values else sum(values))
    merged.cost_usd, merged.cost_known_usd, merged.unpriced_calls = summed(r for _, r in parts)
    confidences = [r.confidence for _, r in parts if r.confidence is not None]
    merged.confidence = min(confidences) if confidences else None
    if failed:
        c, r = failed[0]
        merged.status, merged.score = r.status, None
        merged.error = f"{len(failed)} of {plural(n, 'chunk')} failed; chunk {c.index}: {r.error}"
    else:
        total = sum(c.end - c.start for c, _ in parts)
        merged.status, merged.error = "ok", None
        merged.score = round(sum((r.score or 0) * (c.end - c.start) for c, r in parts) / total, 2)
    return merged
