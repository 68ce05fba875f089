"""Run history that loses nothing: runs, every branch attempt, provider-batch jobs and the call cache, in SQLite
or PostgreSQL. A run is written when it starts; each branch the moment it finishes."""

from __future__ import annotations

import threading

from parallax.storage.cache import Cache, GroupedCache
from parallax.storage.database import StorageError, database_url
from parallax.storage.jobs import ProviderBatches
from parallax.storage.runs import RunRecord, Runs
from parallax.storage.votes import Votes

__all__ = ["GroupedCache", "RunRecord", "StorageError", "Store", "database_url", "open_store"]


class Store(Runs, ProviderBatches, Cache, Votes):
    """One history database: runs, provider-batch jobs, the call cache and human votes. Safe to share between
    threads (each call takes its own connection)."""


_lock = threading.Lock()
_stores: dict[str, Store] = {}


def open_store(url: str | None = None) -> Store:
    """One Store per database URL per process (engines hold connection pools)."""
    url = url or database_url()
    with _lock:
        if url not in _stores:
            _stores[url] = Store(url)
        return _stores[url]
