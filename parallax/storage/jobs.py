"""Provider-batch jobs in the history: stored before anything is sent, updated as each part moves, until
collected."""

from __future__ import annotations

import json
from typing import Any

from parallax.storage.database import Database, dump, now


class ProviderBatches(Database):
    """Jobs sent to the providers' batch APIs."""

    def save_provider_batch(self, job_id: str, out_path: str, parts: list[dict[str, Any]],
                            job: dict[str, Any]) -> None:
        at = now()
        with self.transaction() as conn:
            conn.execute("INSERT INTO provider_batches (job_id, created_at, updated_at, status, out_path, "
                                 "parts, job) VALUES (:i, :t, :t, 'waiting', :o, :p, :j)",
                         {"i": job_id, "t": at, "o": out_path, "p": dump(parts), "j": dump(job)})

    def update_provider_batch(self, job_id: str, parts: list[dict[str, Any]], status: str = "waiting") -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE provider_batches SET parts = :p, status = :s, updated_at = :t "
                                 "WHERE job_id = :i", {"p": dump(parts), "s": status, "t": now(), "i": job_id})

    def provider_batches(self, status: str | None = "waiting") -> list[dict[str, Any]]:
        """Provider batches, newest first: each with its parts (one provider batch per engine) and its job."""
        query = "SELECT job_id, created_at, updated_at, status, out_path, parts, job FROM provider_batches"
        with self.transaction() as conn:
            rows = conn.records(query + (" WHERE status = :s" if status else "") + " ORDER BY created_at DESC",
                                {"s": status} if status else {})
        return [{**row, "parts": json.loads(row["parts"]), "job": json.loads(row["job"])} for row in rows]
