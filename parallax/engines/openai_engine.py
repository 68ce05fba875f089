"""OpenAI Chat Completions streaming — also every OpenAI-compatible server (Ollama, vLLM, LM Studio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .base import Event, Finish, Request, Usage, count_attempt


class OpenAIEngine:
    free = False
    kinds = frozenset({"review", "translate", "judge"})
    streams = True

    def __init__(
        self,
        engine_id: str,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        provider: str = "OpenAI",
        usage_in_stream: bool = True,
    ) -> None:
        import openai  # imported lazily: a missing SDK disables only this engine

        self.engine_id, self.model, self.provider = engine_id, model, provider
        self._usage_in_stream = usage_in_stream
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks={"request": [count_attempt]}),
        )

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        kwargs: dict[str, Any] = {}
        if request.schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
            }
        if self._usage_in_stream:
            kwargs["stream_options"] = {"include_usage": True}
        stream: Any = await self._client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            max_completion_tokens=request.max_tokens,
            stream=True,
            **kwargs,
        )
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason == "length":
                        yield Finish("length")
                    elif choice.finish_reason is not None:
                        yield Finish("stop")
