"""Turning what a user gives us (pasted text, a file's bytes, a file named in a batch) into a valid document, or
a clear error.

Files are read by their extension: .txt and .md as UTF-8 text here; PDF, Word (.docx), OpenDocument (.odt) and
HTML by the readers of `readers.py`, in a child process confined in memory and time (`confine.py`): a document is
untrusted, and no document may take the app's server or a batch down. A PDF's pages are separated by a form feed
(as `pdftotext` does), so a finding's page is found again from the text alone, after a refresh or in History.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePath

from parallax import config
from parallax.documents.confine import run_confined
from parallax.documents.readers import PAGE_BREAK, READERS, Budget, Extracted, Refused, Unreadable, word_count

__all__ = ["PAGE_BREAK", "Extracted", "InputError", "word_count"]

TEXT_TYPES = (".txt", ".md")
DOCUMENT_TYPES = (*TEXT_TYPES, ".pdf", ".docx", ".html", ".htm", ".odt")
BINARY_MAX_BYTES = 50 * 1024 * 1024  # a PDF or Word file carries far more bytes than its text
READER_MEMORY_BYTES = 768 * 1024 * 1024  # beyond what the reader starts with; a 50 MB PDF needs ~200 MB
READER_CPU_S = 20
READER_WALL_S = 30.0


class InputError(ValueError):
    """Input we refuse before any call is made; the message is shown to the user as is."""


def byte_limit() -> int:
    """The most bytes a text within the character limit can take (UTF-8: up to 4 bytes a character)."""
    return 4 * config.max_chars()


def _size_limit(name: str) -> int:
    binary = _suffix(name) in DOCUMENT_TYPES and _suffix(name) not in TEXT_TYPES
    return BINARY_MAX_BYTES if binary else byte_limit()


def check_size(size: int, name: str) -> None:
    """Refuse a file by its size, before reading it: a 1 GB file is never read into memory to be refused."""
    if size <= _size_limit(name):
        return
    if _size_limit(name) == BINARY_MAX_BYTES:
        raise InputError(f"{name} is {size:,} bytes: over the limit of {BINARY_MAX_BYTES // 2**20} MB for a "
                         "document file; nothing was read")
    raise InputError(f"{name} is {size:,} bytes: over the limit of {config.max_chars():,} characters "
                     "(PARALLAX_MAX_CHARS); nothing was read")


def read_file(path: str | Path, within: Path | None = None) -> bytes:
    """A regular file's bytes, refused by its size before reading and never read past the limit; a missing or
    unreadable file, a folder, a device, a pipe or a socket is an InputError (a pipe never blocks the read).

    With `within` (a batch's `path` cells), `path` is taken relative to that folder and must stay inside it once
    symbolic links are followed: a batch file cannot make Parallax read, and send out, any other file."""
    name = str(path)
    target = Path(path)
    if within is not None:
        root = within.resolve()
        target = (root / target).resolve()
        if not target.is_relative_to(root):
            raise InputError(f"{name} is outside {root}: a batch may name only documents in its own folder or below "
                             "(or in the folder given with --documents); nothing was read")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if within is not None else 0)
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read it ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{name} is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise InputError(f"{name} is not a regular file (a device, a pipe or a socket); nothing was read")
        check_size(status.st_size, name)
        try:
            data = handle.read(_size_limit(name) + 1)  # it may have grown since: never read past the limit
        except OSError as exc:
            raise InputError(f"{name}: cannot read it ({exc.strerror})") from None
    check_size(len(data), name)
    return data


def _suffix(name: str) -> str:
    return PurePath(name).suffix.lower()


def read_document(data: bytes, name: str = "the file") -> Extracted:
    """The text of a file, by its extension; InputError (nothing sent) for a file that has no usable text or that
    its reader cannot read within its limits."""
    suffix = _suffix(name)
    if suffix == ".doc":
        raise InputError(f"{name} is an old Word (.doc) file: save it as .docx or PDF and try again")
    if suffix not in READERS:
        try:
            return Extracted(decode_document(data, name), "text")
        except InputError:
            if suffix in TEXT_TYPES or not suffix:
                raise
            raise InputError(f"{name}: Parallax reads {', '.join(DOCUMENT_TYPES)} files, not {suffix}") from None
    kind, reader = READERS[suffix]
    ended = run_confined(reader, data, Budget(config.max_chars()), memory_bytes=READER_MEMORY_BYTES,
                         cpu_s=READER_CPU_S, wall_s=READER_WALL_S)
    if isinstance(ended.error, Refused):
        raise InputError(f"{name} {ended.error}")
    if ended.error is not None or ended.killed is not None:
        reason = ended.killed or (str(ended.error) if isinstance(ended.error, Unreadable)
                                  else f"{type(ended.error).__name__}: {ended.error}")
        raise InputError(f"{name} cannot be read as {kind}: {reason}")
    extracted: Extracted = ended.value
    if not extracted.text.replace(PAGE_BREAK, "").strip():
        raise InputError(f"{name} has no text to review" + (
            " (a scanned PDF without a text layer? run OCR on it first, e.g. ocrmypdf)" if suffix == ".pdf" else ""))
    return extracted


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
    limit = config.max_chars() if max_chars is None else max_chars
    if not text.strip():
        raise InputError("the text is empty: paste or upload something to review")
    if len(text) > limit:
        raise InputError(f"the text is {len(text):,} characters; the limit is {limit:,} (PARALLAX_MAX_CHARS)")
    return text
