"""Long documents: split on boundaries with overlap, one task per branch and chunk, merged per branch."""

from __future__ import annotations

import json

import pytest

import parallax.review.chunks as chunks_module
from parallax.config import load_config
from parallax.export import to_json
from parallax.review.chunks import split_text
from parallax.run.events import BranchFinished, ChunkFinished
from parallax.run.execute import stream_run
from parallax.run.plan import plan_review
from tests.conftest import run
from tests.fakes.provider_server import status

PARAGRAPH = "Paragraph {i}. We guarantee uptime, always. Another sentence pads it to a sensible length for tests."
DOC = "\n\n".join(PARAGRAPH.format(i=i) for i in range(11)) + "\n\nWrite to jane.doe@example.com with questions."


def test_split_respects_size_boundaries_and_overlap():
    chunks = split_text(DOC, size=400, overlap=60)
    assert len(chunks) > 1 and all(len(c.text) <= 400 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(DOC)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end  # overlap: the next chunk repeats the end of the previous one
        assert a.end - b.start <= 60 + 1
        assert DOC[a.end - 1] == "." and DOC[b.start - 1] in " \n"  # ends on a sentence, starts on a word
    assert split_text("short", size=400) == [chunks_module.Chunk(1, 0, 5, "short")]


def test_one_unbroken_sentence_is_cut_hard():
    chunks = split_text("word " * 500, size=400, overlap=50)
    assert all(len(c.text) <= 400 for c in chunks) and chunks[-1].end == 2500


async def test_long_document_map_reduce(monkeypatch):
    monkeypatch.setenv("PARALLAX_CHUNK_CHARS", "400")
    plan = plan_review(DOC, load_config(env={}), ["legal", "technical"], ["offline:rules", "sim:s?latency=0&score=6"])
    events = [e async for e in stream_run(plan)]
    n = len(split_text(DOC))
    assert sum(isinstance(e, ChunkFinished) for e in events) == 4 * n  # one task per branch and chunk
    finished = [e.result for e in events if isinstance(e, BranchFinished)]
    assert len(finished) == 4 and all(r.chunks == n and len(r.chunk_results) == n for r in finished)
    sim = next(r for r in finished if r.branch_id == "legal@sim:s?latency=0&score=6")
    assert sim.score == 6  # the same score in every chunk, whatever the weights
    legal = next(r for r in finished if r.branch_id == "legal@offline:rules")
    quotes = [(f.quote, f.note) for f in legal.issues]
    assert len(quotes) == len(set(quotes))  # merged and de-duplicated across overlapping chunks
    email = next(f for f in legal.issues if f.quote == "jane.doe@example.com")
    assert email.chunk == len(split_text(DOC))  # each finding says which chunk it came from (here: the last)
    weights = [c["end"] - c["start"] for c in legal.chunk_results]
    expected = sum(c["score"] * w for c, w in zip(legal.chunk_results, weights, strict=True)) / sum(weights)
    assert legal.score == round(expected, 2)


def test_json_gives_chunks_and_per_chunk_results(monkeypatch):
    monkeypatch.setenv("PARALLAX_CHUNK_CHARS", "400")
    outcome = run(load_config(env={}), ["offline:rules"], ["legal"], document=DOC)
    branch = json.loads(to_json(outcome))["branches"][0]
    assert branch["chunks"] == len(split_text(DOC)) and branch["chunk_results"][0]["chunk"] == 1


def test_a_text_the_provider_rejects_as_too_long_is_reviewed_in_chunks(fake, config):
    fake.enqueue("m", status(400, {"error": {"message": "maximum context length exceeded",
                                             "code": "context_length_exceeded"}}))
    (r,) = run(config, ["openai:m"], ["legal"], document=DOC).ordered()
    assert r.status == "ok" and r.chunks == 2 and r.score == 7
    assert r.text.startswith("(the whole text was too long for the model: reviewed in 2 chunks)")
    assert fake.calls("m") == 3  # the refused whole, then the two halves


@pytest.mark.parametrize("size", [50, 400, 5000])
def test_chunks_cover_the_whole_text(size):
    chunks = split_text(DOC, size=size, overlap=min(20, size // 4))
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert covered >= set(range(len(DOC.rstrip())))
