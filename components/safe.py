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
