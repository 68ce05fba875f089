"""`libretranslate` — a self-hosted LibreTranslate server (LIBRETRANSLATE_URL, optional LIBRETRANSLATE_API_KEY)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .base import Event, Finish, Request, count_attempt


class LibreTranslateError(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = {"error": {"message": message}}


class LibreTranslateEngine:
    engine_id = "libretranslate"
    provider = "LibreTranslate"
    model = "libretranslate"
    free = True  # self-hosted: no per-call price
    kinds = frozenset({"translate"})
    streams = False
    prompted = False  # it gets the text itself, no prompt

    def __init__(self, url: str, api_key: str | None = None) -> None:
        import httpx2

        self._url = url.rstrip("/") + "/translate"
        self._api_key = api_key
        self._client = httpx2.AsyncClient(timeout=60, event_hooks={"request": [count_attempt]})

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        task = request.task
        payload: dict[str, Any] = {"q": task.document, "source": task.source, "target": task.target, "format": "text"}
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
