"""Untrusted text (documents, translations, references) placed between tags in a prompt, so it stays data.

A perspective's description and rubric (from a shared parallax.toml, the page, or suggested by a model that read
the document) are delimited the same way, in a `<rubric>` block.

A text that contains a tag of ours in any spelling (`</DOCUMENT>`, `</document >`, `< / document>`, a fullwidth
`＜`) could close the data block and speak as the prompt. Every such tag in the text has its bracket replaced
by a look-alike that no reader takes for a tag; everything else in the text is left exactly as it was.
"""

from __future__ import annotations

import re

TAGS = ("document", "source", "translation", "reference", "draft", "rubric")
_OUR_TAG = re.compile(r"[<＜](?=\s*/?\s*(?:" + "|".join(TAGS) + r")(?![\w-]))", re.IGNORECASE)
LOOKALIKE = "‹"


def neutralise(text: str) -> str:
    """The text with every opening or closing tag of ours made inert."""
    return _OUR_TAG.sub(LOOKALIKE, text)


def delimit(tag: str, text: str, **attributes: str) -> str:
    """`<tag a="…">` + the text, neutralised + `</tag>`, each on its own line."""
    assert tag in TAGS, tag
    attrs = "".join(f' {name}="{value}"' for name, value in attributes.items())
    return f"<{tag}{attrs}>\n{neutralise(text)}\n</{tag}>"
