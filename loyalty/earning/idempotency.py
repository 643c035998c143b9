"""Idempotency keys for retry-safe public API writes (`Idempotency-Key`, per shop).

A write claims its key inside its own transaction, before it changes anything, and stores its
response in the same transaction, so a committed key always has its response: a repeat gets
that response back, never a second write. The claim is `INSERT … ON CONFLICT DO NOTHING` on the
unique (shop, key): on PostgreSQL a concurrent request with the same key waits on the index
entry until the first commits (then replays its response) or rolls back (then runs itself);
SQLite runs one write transaction at a time. A request that fails stores nothing (the claim
rolls back with it), so a retry after an error is evaluated afresh.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty import sql
from loyalty.errors import ConflictError
from loyalty.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


class IdempotencyKeyReusedError(ConflictError):
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class IdempotencyKeyInUseError(ConflictError):
    code = "idempotency_key_in_use"
    title = "Idempotency key in use"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def fingerprint(request: dict[str, Any]) -> str:
    """A stable hash of the request's meaning (key order and spacing do not matter)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_CLAIM_SQL = """
INSERT INTO idempotency_record (shop_id, "key", fingerprint, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (shop_id, "key") DO NOTHING
RETURNING id
"""


async def claim(
    *, shop_id: int, key: str, request_fingerprint: str, now: datetime
) -> int | StoredResponse:
    """Call inside the write's transaction. The new record's id (go ahead, then `store`), or
    the response already stored for this key. Raises IdempotencyKeyReusedError when the key
    was used for a different request, IdempotencyKeyInUseError if its first use has not
    finished (not reachable while claims and responses commit together)."""
    row = await sql.fetch_one(_CLAIM_SQL, shop_id, key, request_fingerprint, now)
    if row is not None:
        return int(row["id"])
    record = await IdempotencyRecord.get(shop_id=shop_id, key=key)
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was already used for a different request; send a new key "
            "for a new request"
        )
    if record.response_status is None or record.response_body is None:
        raise IdempotencyKeyInUseError(
            "A request with this Idempotency-Key is still being processed; retry shortly"
        )
    return StoredResponse(record.response_status, record.response_body)


async def store(*, record_id: int, status: int, body: dict[str, Any]) -> None:
    """Call inside the same transaction as `claim`, with the response to replay."""
    await IdempotencyRecord.filter(id=record_id).update(response_status=status, response_body=body)
