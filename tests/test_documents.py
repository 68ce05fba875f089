"""Real documents in: PDF, Word, OpenDocument and web pages are read into the text Parallax sends; files it cannot
read are refused with a clear message before any call; findings point at the page of a PDF."""

from __future__ import annotations

import csv
import io
import json

import pytest

from parallax import cli
from parallax.batch import rows as batch
from parallax.documents import InputError, find_quote, page_at, read_document
from parallax.estimate import estimate_tokens
from tests.fakes import documents as make

TERMS = [["Terms of service", "The supplier provides the service as described."],
         ["Data", "Write to jane.doe@example.com to have your data deleted."]]


@pytest.fixture(autouse=True)
def here(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PARALLAX_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_each_format_gives_its_text_in_reading_order():
    pdf = read_document(make.pdf(TERMS), "terms.pdf")
    assert pdf.text == ("Terms of service\nThe supplier provides the service as described.\n\f\n"
                        "Data\nWrite to jane.doe@example.com to have your data deleted.")
    assert pdf.describe() == "PDF · 2 pages · 19 words"
    word = read_document(make.docx(["Master agreement", "Fees are due in 30 days."], [["Fee", "Due"], ["$10", "May"]]),
                         "contract.docx")
    assert word.text == "Master agreement\n\nFees are due in 30 days.\n\nFee | Due\n\n$10 | May"
    assert word.describe() == "Word document · 12 words"
    odt = read_document(make.odt("Policy", ["First rule.", "Second rule."]), "policy.odt")
    assert odt.text == "Policy\n\nFirst rule.\n\nSecond rule."
    html = read_document(b"<html><head><title>Tab title</title><style>p{}</style><script>var secret=1</script></head>"
                         b"<body><h1>Release notes</h1><p>Start-up is <b>3x</b> faster.<br>Upgrade today.</p>"
                         b"<ul><li>One</li><li>Two</li></ul></body></html>", "notes.html")
    assert html.text == "Release notes\n\nStart-up is 3x faster.\nUpgrade today.\n\nOne\n\nTwo"
    assert read_document("Plain *markdown* ✓".encode(), "notes.md").text == "Plain *markdown* ✓"


@pytest.mark.parametrize(("data", "name", "message"), [
    (make.pdf([["Secret terms"]], password="hunter2"), "locked.pdf", "locked.pdf is encrypted (password-protected)"),
    (make.pdf([[], []]), "scan.pdf", "scan.pdf has no text to review (a scanned PDF without a text layer?"),
    (b"%PDF-1.7\n1 0 obj\n<< broken", "broken.pdf", "broken.pdf cannot be read as a PDF: damaged or not a PDF"),
    (b"PK\x03\x04 not really a zip", "broken.docx", "broken.docx cannot be read as a Word document"),
    (b"not a zip", "broken.odt", "broken.odt cannot be read as an OpenDocument text"),
    (b"\xd0\xcf\x11\xe0old word", "old.doc", "old.doc is an old Word (.doc) file: save it as .docx or PDF"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "photo.png", "photo.png: Parallax reads .txt, .md, .pdf, .docx"),
    (b"<html><body><script>only()</script></body></html>", "empty.html", "empty.html has no text to review"),
])
def test_a_file_without_usable_text_is_refused_by_name(data, name, message):
    with pytest.raises(InputError) as refused:
        read_document(data, name)
    assert str(refused.value).startswith(message)


def test_the_cli_reviews_a_pdf_and_gives_each_finding_its_page(tmp_path):
    (tmp_path / "terms.pdf").write_bytes(make.pdf(TERMS))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["review", "terms.pdf", "-p", "legal", "-o", "r.json", "--no-cache"], out=out, err=err) == 0
    (branch,) = json.loads((tmp_path / "r.json").read_text())["branches"]
    exposed = [f for f in branch["issues"] if "jane.doe@example.com" in f["quote"]]
    assert exposed and all(f["page"] == 2 and f["located"] for f in exposed)
    assert all(f["page"] is None for f in branch["issues"] if not f["quote"])  # a finding about the whole text


def test_a_file_the_cli_cannot_read_costs_nothing(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(make.pdf([[]]))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["review", "scan.pdf", "-o", "r.json"], out=out, err=err) == cli.EXIT_BAD_INPUT
    assert "scan.pdf has no text to review" in err.getvalue() and "Traceback" not in err.getvalue()
    assert not err.getvalue().startswith("run ") and not (tmp_path / "r.json").exists()  # no run was started


def test_quotes_are_found_across_the_line_breaks_of_extracted_text():
    text = "Page one.\fThe supplier may terminate\nthis agreement   at any time."
    at = find_quote(text, "may terminate this agreement at any time")
    assert at == text.index("may terminate") and page_at(text, at) == 2
    assert find_quote(text, "…terminate this agreement…") == text.index("terminate")
    assert find_quote(text, "THE SUPPLIER") == text.index("The supplier")  # case only as a last resort
    assert find_quote(text, "the customer may terminate") is None
    assert page_at("no pages here", 3) is None


def test_a_batch_row_may_name_a_document_file(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.docx").write_bytes(make.docx(["We guarantee 100% uptime, always."]))
    (tmp_path / "docs" / "b.pdf").write_bytes(make.pdf(TERMS))
    (tmp_path / "in.csv").write_text("id,text,path\n1,Inline text to review.,\n2,,docs/a.docx\n3,,docs/b.pdf\n"
                                     "4,,docs/missing.pdf\n5,,\n", encoding="utf-8")
    rows = list(batch.read_rows(tmp_path / "in.csv", "text", documents=tmp_path))
    assert [r.text for r in rows[:3]] == ["Inline text to review.", "We guarantee 100% uptime, always.",
                                         read_document(make.pdf(TERMS), "b.pdf").text]
    assert rows[3].text is None and "docs/missing.pdf: no such file" in (rows[3].error or "")
    assert rows[4].error == "row 5: the 'text' cell is empty"
    (tmp_path / "in.jsonl").write_text('{"id": "x", "path": "docs/a.docx"}\n', encoding="utf-8")
    (row,) = batch.read_rows(tmp_path / "in.jsonl", "text", documents=tmp_path)
    assert row.text == "We guarantee 100% uptime, always."
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["batch", "in.csv", "--column", "text", "--out", "out.csv", "-p", "legal"], out=out, err=err) == 0
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        statuses = {row["id"]: row["status"] for row in csv.DictReader(handle)}
    assert statuses == {"1": "ok", "2": "ok", "3": "ok", "4": "invalid", "5": "invalid"}


def test_token_estimates_follow_the_script():
    assert estimate_tokens("The quick brown fox jumps over it") == 8  # 33 characters, ~4 a token
    assert estimate_tokens("東京都の天気は晴れです") == 11  # a token a character, not 11 / 4
    assert estimate_tokens("مرحبا بالعالم الجميل") == 8  # 18 Arabic letters / 2.5 + 2 spaces / 4
    assert estimate_tokens("Привет, мир") == 4
