"""`offline:pseudo` — pseudo-localisation: accented look-alikes, ~35% longer, bracketed. Not a translation.

Localisation teams run it before real translations exist: text that stays plain was never
externalised, text that overflows its box will overflow in German, and mangled characters
show an encoding bug.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from parallax.engines.base import Engine, Event, Request, stream_local

LABEL = "Pseudo-localisation — not a translation"
_ACCENTS = str.maketrans(
    "AaBCcDdEeGgHhIiJjKkLlNnOoRrSsTtUuWwYyZz",
    "ÅåƁÇçĐđÉéĜĝĤĥÎîĴĵĶķĻļÑñÖöŔŕŠšŢţÛûŴŵÝýŽž",
)
_PLACEHOLDER = re.compile(r"(\{[^}]*\}|%\w|https?://\S+|\S+@\S+)")  # left untouched: they must survive translation
EXPANSION = 0.35


def pseudo_localise(text: str) -> str:
    pieces = _PLACEHOLDER.split(text)
    out = "".join(p if i % 2 else p.translate(_ACCENTS) for i, p in enumerate(pieces))
    letters = sum(c.isalpha() for c in text)
    padding = "~" * round(letters * EXPANSION)
    return f"[!! {out.strip()} {padding} !!]" if text.strip() else text


class PseudoEngine(Engine):
    engine_id = "offline:pseudo"
    provider = "Pseudo-localisation"
    model = "pseudo"
    free = True
    kinds = frozenset({"translate"})
    not_a_translation = "pseudo-localisation"  # flagged on its card and never picked as the best translation
    streams = True
    prompted = False  # it gets the text itself, no prompt

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        body = pseudo_localise(request.task.document)
        async for event in stream_local(re.findall(r"\S+\s*", body)):
            yield event
