"""`deepl` — DeepL through its official package (key DEEPL_AUTH_KEY, server DEEPL_SERVER_URL). Does not stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from parallax.engines.base import Engine, Event, Finish, Request, Usage, remembered
from parallax.languages import DEEPL_SOURCES, DEEPL_TARGETS, deepl_code, language_name


class DeepLEngine(Engine):
    engine_id = "deepl"
    provider = "DeepL"
    model = "deepl"
    free = False
    kinds = frozenset({"translate"})
    streams = False
    prompted = False  # it gets the text itself, no prompt

    def __init__(self, auth_key: str, server_url: str | None = None) -> None:
        import deepl  # imported lazily: a missing package disables only this engine

        deepl.http_client.max_network_retries = 2  # like the LLM SDKs: 3 attempts; the branch deadline cuts the rest

        self._translator = deepl.Translator(auth_key, server_url=server_url, send_platform_info=False)
        self._server = server_url or "deepl"

    def _languages(self) -> tuple[frozenset[str], frozenset[str]]:
        """The codes this DeepL account translates from and into, as its server says (documented list if it
        cannot be asked)."""
        def ask() -> tuple[frozenset[str], frozenset[str]]:
            return (frozenset(x.code.upper() for x in self._translator.get_source_languages()),
                    frozenset(x.code.upper() for x in self._translator.get_target_languages()))

        return remembered(f"deepl-languages {self._server}", ask, (DEEPL_SOURCES, DEEPL_TARGETS))

    def pair_problem(self, source: str, target: str) -> str | None:
        """Why DeepL cannot translate this pair (asked before any translation is sent), or None."""
        sources, targets = self._languages()
        if deepl_code(source, "source") not in sources:
            return f"DeepL does not translate from {language_name(source)}"
        if deepl_code(target, "target") not in targets:
            near = sorted(t for t in targets if t.split("-")[0] == deepl_code(target, "source"))
            return (f"DeepL does not translate into {language_name(target)}"
                    + (f"; it offers {', '.join(near)}" if near else ""))
        return None

    def _translate(self, request: Request) -> str:
        task = request.task
        result = self._translator.translate_text(task.document, source_lang=deepl_code(task.source, "source"),
                                                 target_lang=deepl_code(task.target, "target"))
        return result.text if not isinstance(result, list) else "".join(r.text for r in result)

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        # The package is synchronous (requests); a thread keeps the event loop free for the other branches.
        text = await asyncio.to_thread(self._translate, request)
        yield text
        yield Usage(None, None)
        yield Finish("stop")
