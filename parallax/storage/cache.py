"""The cache of identical calls: an answer kept by its request's key, written one by one or, for a batch, in
groups."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from parallax.storage.database import Database, dump, now


class Cache(Database):
    """The cache table."""

    def cache_get(self, key: str) -> dict[str, Any] | None:
        with self.transaction() as conn:
            found = conn.rows("SELECT data FROM cache WHERE key = :k", {"k": key})
        return json.loads(found[0][0]) if found and found[0][0] else None

    def cache_put(self, key: str, engine: str, data: dict[str, Any]) -> None:
        self.cache_put_many([(key, engine, data)])

    def cache_put_many(self, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Several answers in one transaction (one commit); keys already there are kept as they are."""
        rows = {key: {"k": key, "e": engine, "d": dump(data), "t": now()} for key, engine, data in entries}
        if not rows:
            return
        with self.transaction() as conn:
            found = [key for (key,) in conn.rows("SELECT key FROM cache WHERE key IN :keys", {"keys": list(rows)})]
            kept = set(found)
            new = [row for key, row in rows.items() if key not in kept]
            if new:
                conn.execute("INSERT INTO cache (key, engine, data, created_at) VALUES (:k, :e, :d, :t)",
                             new)


class GroupedCache:
    """The call cache for a batch: answers are written in groups (one commit per `size` answers, or when the
    oldest has waited `wait_s`), not one commit per call — a commit per call was 13% of a batch's CPU. Reads see
    the answers still waiting. `flush()` at the end; a kill loses at most one group (a missed saving only)."""

    def __init__(self, store: Cache, size: int = 200, wait_s: float = 2.0) -> None:
        self.store, self.size, self.wait_s = store, size, wait_s
        self._pending: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self._since = 0.0
        self._lock = threading.Lock()

    def cache_get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            waiting = self._pending.get(key)
        return waiting[2] if waiting is not None else self.store.cache_get(key)

    def cache_put(self, key: str, engine: str, data: dict[str, Any]) -> None:
        with self._lock:
            if not self._pending:
                self._since = time.monotonic()
            self._pending[key] = (key, engine, data)
            due = len(self._pending) >= self.size or time.monotonic() - self._since >= self.wait_s
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            entries, self._pending = list(self._pending.values()), {}
        if entries:
            self.store.cache_put_many(entries)
