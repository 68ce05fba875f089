"""Showing untrusted text (pasted documents, model output) as plain text inside markdown."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Escape markdown so links, images (remote loads) and formatting in the text stay inert."""
    return _SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")
