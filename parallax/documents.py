"""Turning what a user gives us (pasted text, a file's bytes) into a valid document, or a clear error."""

from __future__ import annotations

from . import config


class InputError(ValueError):
    """Input we refuse before any call is made; the message is shown to the user as is."""


def byte_limit() -> int:
    """The most bytes a text within the character limit can take (UTF-8: up to 4 bytes a character)."""
    return 4 * config.MAX_CHARS


def check_size(size: int, name: str) -> None:
    """Refuse a file by its size, before reading it: a 1 GB file is never read into memory to be refused."""
    if size > byte_limit():
        raise InputError(f"{name} is {size:,} bytes: over the limit of {config.MAX_CHARS:,} characters "
                         "(PARALLAX_MAX_CHARS); nothing was read")


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
