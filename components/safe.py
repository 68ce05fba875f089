"""Showing untrusted text (pasted documents, model output) as plain text inside markdown."""

from __future__ import annotations

import re

# Every ASCII punctuation character markdown, GFM or Streamlit give a meaning to: links and images ([]()!), autolinks
# (<> and the "www." / "http://" / "a@b.c" literals, broken by escaping . : @), HTML entities (&), emphasis,
# headings (# and =), lists, tables, code, strikethrough, LaTeX ($) and Streamlit's :colour[...] / :material/icon:
# forms (Streamlit finds those even in escaped text unless the "/" is escaped too).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:@&=^\"'/])")


# Streamlit turns URLs and e-mail addresses in text into live links even when every character is escaped
# (measured in Chromium: 740 links from escaped model text). An invisible WORD JOINER before ":", "." and "@"
# breaks every pattern a link detector looks for ("http://", "www.", "a@b.c", "name.com") without changing
# what the reader sees.
_LINK_PARTS = re.compile(r"(?=[:.@])")
JOINER = "\u2060"


def md_escape(text: str) -> str:
    """Untrusted text (model output, documents, provider messages, engine ids) inside markdown Parallax writes:
    shown verbatim, never a link, an image, HTML or formatting. Where no formatting is needed, prefer st.text."""
    unlinked = _LINK_PARTS.sub(JOINER, text.replace(JOINER, ""))
    return _SPECIAL.sub(r"\\\1", unlinked).replace("\r", "").replace("\n", "  \n")


def md_code(text: str) -> str:
    """Untrusted text (an engine id, a run id from the address) as an inline code span inside markdown: shown
    verbatim, since markdown reads no escape, link or formatting inside one — so it must not be md_escape'd (the
    backslashes would show). The fence is longer than any run of backticks in the text; lines become spaces."""
    body = " ".join(text.replace("\r", "").split("\n")) or " "
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"
