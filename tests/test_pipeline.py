"""One branch pipeline: the same perspective on the same text makes the same calls (chunks, steps, prompts) through
`parallax review` (the graph, as on the page) and through `parallax batch`, and a provider batch plans the calls
it can from the same pipeline."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from parallax import cli
from parallax.review import chunks
from tests.test_batch import batch, results, write_csv
from tests.test_cli import Stdin

KEY = "fake-key-pipeline-0123456789abcdefghij"
PARAGRAPH = ("The supplier shall deliver the service described in the annex, and the customer shall pay each "
             "invoice within thirty days of receiving it. ")


@pytest.fixture
def openai(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    return fake


def _prompts(fake) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Every model call as what was asked (the user message), counted."""
    calls = [r for r in fake.requests if r["path"].endswith("/chat/completions")]
    return Counter(json.dumps(r["body"]["messages"][-1]["content"]) for r in calls)


def _review_then_batch(fake, tmp_path: Path, text: str, perspective: str, extra: list[str]):  # type: ignore[no-untyped-def]
    (tmp_path / "doc.txt").write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["review", str(tmp_path / "doc.txt"), "-p", perspective, "-e", "openai:gpt-4o-mini",
                     "--no-cache", *extra], stdin=Stdin(b""), out=out, err=err)
    assert code == 0, err.getvalue()
    reviewed = _prompts(fake)
    fake.requests.clear()
    source = write_csv(tmp_path / "in.csv", [["d1", text]])
    code, _, err_text = batch([str(source), "--column", "text", "--out", str(tmp_path / "out.csv"), "-p", perspective,
                               "-e", "openai:gpt-4o-mini", "--no-cache", *extra])
    assert code == 0, err_text
    assert [r["status"] for r in results(tmp_path / "out.csv")] == ["ok"]
    return reviewed, _prompts(fake)


def test_a_long_text_is_chunked_the_same_way_by_review_and_by_batch(openai, tmp_path, monkeypatch):
    monkeypatch.setenv("PARALLAX_CHUNK_CHARS", "4000")
    text = "\n\n".join(PARAGRAPH * 4 for _ in range(34))  # ~23,000 characters
    reviewed, batched = _review_then_batch(openai, tmp_path, text, "legal", [])
    assert sum(reviewed.values()) == len(chunks.split_text(text)) == 6
    assert batched == reviewed  # before: the batch made 1 call with the whole text


def test_a_two_step_perspective_drafts_then_checks_in_review_and_in_batch(openai, tmp_path):
    (tmp_path / "parallax.toml").write_text('[perspectives.careful]\ndescription = "checked twice"\n'
                                            'rubric = "- Check every clause twice."\ntwo_step = true\n')
    config = ["--config", str(tmp_path / "parallax.toml")]
    reviewed, batched = _review_then_batch(openai, tmp_path, PARAGRAPH * 3, "careful", config)
    assert sum(reviewed.values()) == 2  # the draft, then the check of the draft
    assert batched == reviewed  # before: the batch made the draft only
