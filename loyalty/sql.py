"""Hand-written SQL for the hot paths, written once with `$n` placeholders.

PostgreSQL (asyncpg) takes `$n` as is; SQLite takes `?n`, which, like `$n`, may repeat. The ORM
serves everything else; these statements exist because the award path must be a few round
trips, not a dozen ORM queries (see bench/award).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from loyalty.db import connection, dialect

_PLACEHOLDER = re.compile(r"\$(\d+)")


@cache
def for_dialect(sql: str, dialect_name: str) -> str:
    if dialect_name == "sqlite":
        return _PLACEHOLDER.sub(r"?\1", sql)
    return sql


async def fetch_one(sql: str, *values: Any) -> dict[str, Any] | None:
    rows = await fetch_all(sql, *values)
    return rows[0] if rows else None


async def fetch_all(sql: str, *values: Any) -> list[dict[str, Any]]:
    conn = connection()
    return await conn.execute_query_dict(for_dialect(sql, dialect()), list(values))


async def execute(sql: str, *values: Any) -> int:
    conn = connection()
    rowcount, _ = await conn.execute_query(for_dialect(sql, dialect()), list(values))
    return rowcount
