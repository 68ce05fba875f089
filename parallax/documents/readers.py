"""The text of PDF, Word, OpenDocument and HTML files, read under limits: a document is untrusted input.

Every reader is linear in its input and stops at the text limit: Word and OpenDocument files are zip archives,
whose members are checked (declared size, compression ratio) before anything is inflated and inflated no further
than the limit; their XML and HTML go through libxml2 (lxml) with entities, DTDs and the network off, whose
parsers have no quadratic paths (Python's html.parser has, CVE-2025-6069) and refuse nesting deeper than 256;
PDFs through pypdf with tight stream limits. Text a reader never sees (Word's hidden runs, HTML hidden with
`hidden` or `display:none`) is dropped, so nothing is sent that the user was not shown. These readers run in a
confined child process (`documents.read_document`), the backstop for whatever a limit here misses.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

PAGE_BREAK = "\f"
XML_MAX_BYTES = 64 * 1024 * 1024  # the one XML member we read (a 500-page contract's document.xml is ~5 MB)
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_RATIO = 1000  # repetitive XML compresses a few hundred times; only a crafted stream nears deflate's ~1032
PDF_STREAM_MAX_BYTES = 16 * 1024 * 1024  # one decoded stream (a page of dense text is well under 1 MB)


class Unreadable(ValueError):
    """The file cannot be read as its kind; the message says why (documents.py puts the file's name first)."""


class Refused(Unreadable):
    """The file is readable but refused; the message is said of the file ("is encrypted...")."""


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


class Budget:
    """Characters of text gathered so far; well past `limit` the reader stops (the text could not be sent anyway).
    Counted before spaces are tidied, hence the margin; the tidied text is held to the exact limit later."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def add(self, text: str) -> str:
        self.used += len(text)
        if self.used > 2 * self.limit:
            raise Refused(f"holds far more than {self.limit:,} characters of text, the limit (PARALLAX_MAX_CHARS)")
        return text


def tidy(text: str) -> str:
    """One space between words, at most one blank line between paragraphs."""
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ---- zip archives (Word, OpenDocument) ----

def zip_member(data: bytes, member: str) -> bytes:
    """One member of a zip archive, inflated no further than XML_MAX_BYTES, after its declared size and ratio were
    checked (a bomb is refused before any inflating). The other members (pictures, fonts) are never inflated."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"not a zip archive ({exc})") from None
    if len(infos) > ZIP_MAX_MEMBERS:
        raise Unreadable(f"it holds {len(infos):,} files (a document has far fewer)")
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise Unreadable(f"it has no {member}") from None
    if info.file_size > XML_MAX_BYTES:
        raise Unreadable(f"its {member} would inflate to {info.file_size:,} bytes, over the limit of "
                         f"{XML_MAX_BYTES // 2**20} MB (a zip bomb?)")
    if info.file_size > 1024 * 1024 and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
        raise Unreadable(f"its {member} is compressed {info.file_size // max(info.compress_size, 1):,} to 1 "
                         "(a zip bomb?)")
    try:
        with archive.open(info) as handle:
            content = handle.read(XML_MAX_BYTES + 1)  # the declared size may lie: never inflate past the limit
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        raise Unreadable(f"its {member} is damaged ({exc})") from None
    if len(content) > XML_MAX_BYTES:
        raise Unreadable(f"its {member} is over the limit of {XML_MAX_BYTES // 2**20} MB")
    return content


def top_level(content: bytes, tags: tuple[str, ...], within: tuple[str, ...]) -> Iterator[Any]:
    """The elements named `tags` that are not inside an element named `within`, each whole, in document order,
    parsed as a stream and freed once used: memory stays flat however long the XML, and a reader that stops at
    the text limit has parsed no further."""
    from lxml import etree

    events = etree.iterparse(io.BytesIO(content), events=("end",), tag=tags, resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        for _, el in events:
            if next(el.iterancestors(*within), None) is not None:
                continue  # read with the element that holds it
            yield el
            el.clear(keep_tail=True)
            parent = el.getparent()
            while parent is not None and el.getprevious() is not None:  # what came before is read
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise Unreadable(f"its XML is damaged or nested too deeply ({exc})") from None


def walk(root: Any, on_start: Callable[[Any], str | None], on_end: Callable[[Any], str] | None = None,
         ) -> Iterator[str]:
    """Text pieces of a tree in reading order, without recursion: `on_start(el)` gives what an element begins
    with (None: skip it and everything in it, but not what follows it), `on_end(el)` what it ends with; each
    element's own text follows its start, its tail follows its end."""
    from lxml import etree

    walker = etree.iterwalk(root, events=("start", "end"))
    skipping = None
    for event, el in walker:
        if skipping is not None:
            if event == "end" and el is skipping:
                skipping = None
                if el is not root and el.tail:
                    yield el.tail
            continue
        if event == "start":
            begin = on_start(el)
            if begin is None:
                skipping = el
                continue
            yield begin
            if el.text:
                yield el.text
        else:
            if on_end is not None:
                yield on_end(el)
            if el is not root and el.tail:
                yield el.tail


# ---- Word (.docx) ----

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OFF = ("0", "false", "off")


def _hidden_run(run: Any) -> bool:
    vanish = run.find(f"{W}rPr/{W}vanish")
    return vanish is not None and vanish.get(f"{W}val", "true") not in _OFF


def docx(data: bytes, budget: Budget) -> Extracted:
    def paragraph(p: Any) -> str:
        pieces = []
        for el in p.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W}cr"):
            run = el.getparent()  # only what is in a run (a w:tab in the paragraph's properties is a tab stop)
            if run is None or run.tag != f"{W}r" or _hidden_run(run):
                continue
            pieces.append((el.text or "") if el.tag == f"{W}t" else "\t" if el.tag == f"{W}tab" else "\n")
        return "".join(pieces)

    blocks: list[str] = []
    for block in top_level(zip_member(data, "word/document.xml"), (f"{W}p", f"{W}tbl"), (f"{W}p", f"{W}tbl")):
        if block.tag == f"{W}tbl":
            for row in block.iterchildren(f"{W}tr"):
                cells = [" ".join(paragraph(p) for p in cell.iter(f"{W}p")) for cell in row.iterchildren(f"{W}tc")]
                blocks.append(budget.add(" | ".join(dict.fromkeys(cells)) + "\n\n"))  # a merged cell repeats
        else:
            blocks.append(budget.add(paragraph(block) + "\n\n"))
    return Extracted(tidy("".join(blocks)), "Word document")


# ---- OpenDocument (.odt) ----

TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def odt(data: bytes, budget: Budget) -> Extracted:
    def start(el: Any) -> str | None:
        if el.tag in (f"{OFFICE}annotation", f"{TEXT}hidden-text", f"{TEXT}tracked-changes"):
            return None
        if el.tag == f"{TEXT}s":  # a run of spaces: one is what reads (text:c may say a billion)
            return " "
        return "\t" if el.tag == f"{TEXT}tab" else "\n" if el.tag == f"{TEXT}line-break" else ""

    paragraphs = (f"{TEXT}p", f"{TEXT}h")  # a note's paragraphs are read with the paragraph that holds them
    skipped = (*paragraphs, f"{OFFICE}annotation", f"{TEXT}tracked-changes")  # comments, deleted text
    blocks = [budget.add("".join(walk(p, start)) + "\n\n")
              for p in top_level(zip_member(data, "content.xml"), paragraphs, skipped)]
    return Extracted(tidy("".join(blocks)), "OpenDocument text")


# ---- HTML ----

_BLOCKS = frozenset(("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section",
                     "article", "header", "footer", "table", "ul", "ol", "dt", "dd", "figcaption", "main", "nav",
                     "aside", "form", "fieldset", "address", "details", "summary", "hr"))
_UNSEEN = frozenset(("script", "style", "noscript", "template", "head", "svg", "title", "iframe", "object"))
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def html(data: bytes, budget: Budget) -> Extracted:
    from lxml import etree
    from lxml import html as lhtml

    try:
        data.decode("utf-8")
        encoding: str | None = "utf-8"
    except UnicodeDecodeError:
        encoding = None  # the page's own <meta charset>, else Latin-1
    parser = lhtml.HTMLParser(encoding=encoding, remove_comments=True, remove_pis=True, no_network=True,
                              huge_tree=False, default_doctype=False)
    try:
        root = lhtml.document_fromstring(data.removeprefix(b"\xef\xbb\xbf"), parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        if "empty" in str(exc).lower():
            return Extracted("", "web page")
        raise Unreadable(f"its markup is broken ({exc})") from None
    if any("Excessive depth" in entry.message for entry in parser.error_log):
        raise Unreadable("its elements are nested more than 256 deep (built to break readers?)")

    def start(el: Any) -> str | None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _UNSEEN or el.get("hidden") is not None or _HIDDEN_STYLE.search(el.get("style") or ""):
            return None  # never shown to a reader, so never sent
        return "\n" if tag == "br" else "\n\n" if tag in _BLOCKS else ""

    def end(el: Any) -> str:
        return "\n\n" if el.tag in _BLOCKS else ""

    return Extracted(tidy(budget.add("".join(walk(root, start, end)))), "web page")


# ---- PDF ----

ENCRYPTED = "is encrypted (password-protected): remove the password and try again"

def pdf(data: bytes, budget: Budget) -> Extracted:
    import pypdf
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError

    limits = {"zlib_maximum_output_length": PDF_STREAM_MAX_BYTES,
              "lzw_maximum_output_length": PDF_STREAM_MAX_BYTES,
              "run_length_maximum_output_length": PDF_STREAM_MAX_BYTES,
              "array_based_stream_maximum_output_length": PDF_STREAM_MAX_BYTES,
              "stream_decoding_work_maximum_length": 4 * PDF_STREAM_MAX_BYTES,
              "maximum_declared_stream_length": PDF_STREAM_MAX_BYTES}
    with pypdf.apply_configuration(None, **limits):
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise Refused(ENCRYPTED)
            pages = []
            for number, page in enumerate(reader.pages, start=1):
                try:
                    pages.append(budget.add(tidy(page.extract_text() or "")))
                except LimitReachedError as exc:
                    raise Unreadable(f"page {number} is too large to read ({exc})") from None
        except Unreadable:
            raise
        except FileNotDecryptedError:
            raise Refused(ENCRYPTED) from None
        except RecursionError:
            raise Unreadable("it is nested too deeply to read (damaged, or built to break readers)") from None
        except Exception as exc:  # pypdf raises its own, ValueError, KeyError... for a damaged file
            # The reader's own words ("Stream has ended unexpectedly") tell a user nothing: say what to do instead.
            if "encrypt" in str(exc).lower():
                raise Refused(ENCRYPTED) from None
            raise Unreadable("damaged or not a PDF. If it opens in a PDF viewer, save or print it to PDF again "
                             "there, or paste its text") from None
    return Extracted(f"\n{PAGE_BREAK}\n".join(pages), "PDF", len(pages))  # the break on a line of its own: seen


READERS: dict[str, tuple[str, Callable[[bytes, Budget], Extracted]]] = {
    ".pdf": ("a PDF", pdf), ".docx": ("a Word document", docx), ".odt": ("an OpenDocument text", odt),
    ".html": ("HTML", html), ".htm": ("HTML", html)}
