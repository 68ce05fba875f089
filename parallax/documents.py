"""Turning what a user gives us (pasted text, a file's bytes) into a valid document, or a clear error.

Files are read by their extension: .txt and .md as UTF-8 text, .pdf with pypdf, .docx with python-docx,
.html with Beautiful Soup, .odt with odfpy (small pure-Python readers: 6.6 MB of wheels with lxml, against 87 MB
for markitdown's PDF and Word extras). A PDF's pages are separated by a form feed (as `pdftotext` does), so a
finding's page is found again from the text alone, after a refresh or in History.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from . import config

PAGE_BREAK = "\f"
TEXT_TYPES = (".txt", ".md")
DOCUMENT_TYPES = (*TEXT_TYPES, ".pdf", ".docx", ".html", ".htm", ".odt")
BINARY_MAX_BYTES = 50 * 1024 * 1024  # a PDF or Word file carries far more bytes than its text


class InputError(ValueError):
    """Input we refuse before any call is made; the message is shown to the user as is."""


def byte_limit() -> int:
    """The most bytes a text within the character limit can take (UTF-8: up to 4 bytes a character)."""
    return 4 * config.MAX_CHARS


def check_size(size: int, name: str) -> None:
    """Refuse a file by its size, before reading it: a 1 GB file is never read into memory to be refused."""
    if _suffix(name) in DOCUMENT_TYPES and _suffix(name) not in TEXT_TYPES:
        if size > BINARY_MAX_BYTES:
            raise InputError(f"{name} is {size:,} bytes: over the limit of {BINARY_MAX_BYTES // 2**20} MB for a "
                             "document file; nothing was read")
    elif size > byte_limit():
        raise InputError(f"{name} is {size:,} bytes: over the limit of {config.MAX_CHARS:,} characters "
                         "(PARALLAX_MAX_CHARS); nothing was read")


def read_file(path: str | Path) -> bytes:
    """A file's bytes, refused by its size before reading; a missing or unreadable file is an InputError."""
    try:
        check_size(Path(path).stat().st_size, str(path))
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None


def _suffix(name: str) -> str:
    return PurePath(name).suffix.lower()


@dataclass(frozen=True)
class Extracted:
    """A file's text as Parallax will send it, and what a user checks before Run."""

    text: str
    kind: str  # "text", "PDF", "Word document", "web page", "OpenDocument text"
    pages: int | None = None  # PDFs

    def describe(self) -> str:
        """E.g. "PDF · 3 pages · 1,234 words", shown beside the extracted text."""
        parts = [self.kind]
        if self.pages is not None:
            parts.append(f"{self.pages:,} page{'s' if self.pages != 1 else ''}")
        return " · ".join([*parts, f"{word_count(self.text):,} words"])


def word_count(text: str) -> int:
    """Words as a reader counts them: a table's "|" or a lone dash is not a word."""
    return sum(1 for token in text.split() if any(c.isalnum() for c in token))


def read_document(data: bytes, name: str = "the file") -> Extracted:
    """The text of a file, by its extension; InputError (nothing sent) for a file that has no usable text."""
    suffix = _suffix(name)
    readers = {".pdf": _pdf, ".docx": _docx, ".html": _html, ".htm": _html, ".odt": _odt}
    if suffix == ".doc":
        raise InputError(f"{name} is an old Word (.doc) file: save it as .docx or PDF and try again")
    if suffix not in readers:
        try:
            return Extracted(decode_document(data, name), "text")
        except InputError:
            if suffix in TEXT_TYPES or not suffix:
                raise
            raise InputError(f"{name}: Parallax reads {', '.join(DOCUMENT_TYPES)} files, not {suffix}") from None
    extracted = readers[suffix](data, name)
    if not extracted.text.replace(PAGE_BREAK, "").strip():
        raise InputError(f"{name} has no text to review" + (
            " (a scanned PDF without a text layer? run OCR on it first, e.g. ocrmypdf)" if suffix == ".pdf" else ""))
    return extracted


def _tidy(text: str) -> str:
    """One space between words, at most one blank line between paragraphs."""
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _pdf(data: bytes, name: str) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about a damaged file are ours to say

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{name} is encrypted (password-protected): remove the password and try again")
        pages = [_tidy(page.extract_text() or "") for page in reader.pages]
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        reason = "it is encrypted" if "encrypt" in str(exc).lower() else "damaged or not a PDF"
        raise InputError(f"{name} cannot be read as a PDF ({reason}): {exc}") from None
    return Extracted(f"\n{PAGE_BREAK}\n".join(pages), "PDF", len(pages))  # the break on a line of its own: seen


def _docx(data: bytes, name: str) -> Extracted:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile, KeyError and its own errors for a bad file
        raise InputError(f"{name} cannot be read as a Word document (damaged, or not .docx): {exc}") from None
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.extend(" | ".join(dict.fromkeys(cell.text for cell in row.cells)) for row in block.rows)
        else:
            blocks.append(block.text)
    return Extracted(_tidy("\n\n".join(blocks)), "Word document")


_BLOCKS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section", "article",
           "header", "footer", "table", "ul", "ol", "dt", "dd", "figcaption")


def _html(data: bytes, name: str) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg"]):
        tag.decompose()
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    return Extracted(_tidy(soup.get_text()), "web page")


def _odt(data: bytes, name: str) -> Extracted:
    from odf import teletype
    from odf.opendocument import load

    try:
        document = load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises zipfile and XML errors for a bad file
        raise InputError(f"{name} cannot be read as an OpenDocument text (damaged, or not .odt): {exc}") from None
    blocks: list[str] = []

    def walk(node: Any) -> None:
        for child in node.childNodes:
            if getattr(child, "qname", (None, None))[1] in ("p", "h"):
                blocks.append(teletype.extractText(child))
            else:
                walk(child)

    walk(document.text)
    return Extracted(_tidy("\n\n".join(blocks)), "OpenDocument text")


def find_quote(text: str, quote: str) -> int | None:
    """Where a quote is in the text, allowing for different spacing and line breaks (a PDF breaks lines mid
    sentence) and a quote cut with an ellipsis; None if it is not there."""
    piece = max(re.split(r"\s*(?:…|\.\.\.)\s*", quote.strip()), key=len)
    words = piece.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.search(pattern, text) or re.search(pattern, text, re.IGNORECASE)
    return match.start() if match else None


def page_at(text: str, offset: int) -> int | None:
    """The 1-based page of a character in a text with page breaks (a PDF's); None for a text without pages."""
    return text.count(PAGE_BREAK, 0, offset) + 1 if PAGE_BREAK in text else None


def decode_document(data: bytes, name: str = "the file") -> str:
    """Decode UTF-8 text (a BOM is fine); anything else is an InputError naming the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name} is not UTF-8 text (undecodable byte at position {exc.start}); save it as UTF-8 and try again"
        ) from None
    if "\x00" in text:
        raise InputError(f"{name} looks like a binary file, not text")
    return text


def check_document(text: str, max_chars: int | None = None) -> str:
    """Return the text if it can be reviewed; raise InputError for empty or oversized text."""
    limit = config.MAX_CHARS if max_chars is None else max_chars
    if not text.strip():
        raise InputError("the text is empty: paste or upload something to review")
    if len(text) > limit:
        raise InputError(f"the text is {len(text):,} characters; the limit is {limit:,} (PARALLAX_MAX_CHARS)")
    return text
