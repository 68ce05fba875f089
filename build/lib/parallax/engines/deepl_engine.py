"""`deepl` — DeepL through its official package (key DEEPL_AUTH_KEY, server DEEPL_SERVER_URL). Does not stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..languages import DEEPL_TARGET_VARIANT
from .base import Event, Finish, Request, Usage


class DeepLEngine:
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

    def _translate(self, request: Request) -> str:
        task = request.task
        target = DEEPL_TARGET_VARIANT.get(task.target, task.target.upper())
        result = self._translator.translate_text(task.document, source_lang=task.source.upper(), target_lang=target)
        return result.text if not isinstance(result, list) else "".join(r.text for r in result)

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        # The package is synchronous (requests); a thread keeps the event loop free for the other branches.
        text = await asyncio.to_thread(self._translate, request)
        yield text
        yield Usage(None, None)
        yield Finish("stop")
