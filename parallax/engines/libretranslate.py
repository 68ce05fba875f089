"""`libretranslate` — a self-hosted LibreTranslate server (LIBRETRANSLATE_URL, optional LIBRETRANSLATE_API_KEY)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from parallax.engines.base import Engine, Event, Finish, Request, count_attempt, remembered
from parallax.languages import language_name, libretranslate_code


class LibreTranslateError(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = {"error": {"message": message}}


class LibreTranslateEngine(Engine):
    engine_id = "libretranslate"
    provider = "LibreTranslate"
    model = "libretranslate"
    free = True  # self-hosted: no per-call price
    kinds = frozenset({"translate"})
    streams = False
    prompted = False  # it gets the text itself, no prompt

    def __init__(self, url: str, api_key: str | None = None) -> None:
        import httpx2

        self._base = url.rstrip("/")
        self._url = self._base + "/translate"
        self._api_key = api_key
        self._client = httpx2.AsyncClient(timeout=60, event_hooks={"request": [count_attempt]})

    def _languages(self) -> dict[str, set[str]] | None:
        """Source code → the target codes the server offers (its /languages), or None if it cannot be asked."""
        def ask() -> dict[str, set[str]]:
            import httpx2

            reply = httpx2.get(self._base + "/languages", timeout=3)
            reply.raise_for_status()
            return {str(item["code"]): set(item.get("targets") or []) for item in reply.json()}

        return remembered(f"libretranslate-languages {self._base}", ask, None)

    def _codes(self, source: str, target: str) -> tuple[str, str]:
        offered = self._languages() or {}
        codes = set(offered) | {t for targets in offered.values() for t in targets}
        return libretranslate_code(source, codes), libretranslate_code(target, codes)

    def pair_problem(self, source: str, target: str) -> str | None:
        """Why this server cannot translate the pair (asked before any translation is sent), or None."""
        offered = self._languages()
        if offered is None:
            return None  # the server could not be asked: its answer to the translation will say
        source_code, target_code = self._codes(source, target)
        if source_code not in offered:
            return f"this LibreTranslate server does not translate from {language_name(source)}"
        if target_code not in offered[source_code]:
            return f"this LibreTranslate server does not translate {language_name(source)} → {language_name(target)}"
        return None

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        task = request.task
        source, target = self._codes(task.source, task.target)
        payload: dict[str, Any] = {"q": task.document, "source": source, "target": target, "format": "text"}
        if self._api_key:
            payload["api_key"] = self._api_key
        response = await self._client.post(self._url, json=payload)
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise LibreTranslateError(str(message or f"HTTP {response.status_code}"), response.status_code)
        yield str(data.get("translatedText", ""))
        yield Finish("stop")
