"""An engine's SDK clients: a new one past CALLS_PER_CLIENT calls at once (an httpcore pool scans all its
connections on every request), one TLS context for every client of the process."""

from __future__ import annotations

import contextlib

from parallax.engines.base import CALLS_PER_CLIENT, Clients
from parallax.engines.registry import resolve_engine


def test_calls_go_to_the_least_busy_client_and_a_new_one_opens_when_all_are_full():
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    clients = Clients(make)
    with contextlib.ExitStack() as calls:
        first = [calls.enter_context(clients.one()) for _ in range(CALLS_PER_CLIENT)]
        assert set(map(id, first)) == {id(made[0])} and len(made) == 1
        extra = calls.enter_context(clients.one())
        assert extra is made[1] and len(made) == 2
        assert calls.enter_context(clients.one()) is made[1]  # the least busy
    with clients.one() as again:  # all calls ended: the first is free again, nothing new opens
        assert again is made[0] and len(made) == 2
    assert clients.first is made[0]


def test_every_engine_client_shares_one_tls_context(config):
    engines = [resolve_engine(e, config) for e in ("openai:a", "openai:b", "anthropic:c")]
    contexts = set()
    for engine in engines:
        transport = engine._client._client._transport  # type: ignore[attr-defined]
        contexts.add(id(transport._pool._ssl_context))
    assert len(contexts) == 1
