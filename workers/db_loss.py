"""Jobs run once more when their database connection was lost (PostgreSQL backends terminated,
a failover): every job is idempotent, so a second run is safe whether or not the lost statement
committed, and the work does not wait for the next sweep or for a claim to lapse."""

from __future__ import annotations

import functools
from typing import Any

from arq.typing import WorkerCoroutine

from loyalty.db_retry import retry_on_lost_connection


def rerun_on_lost_connection(job: WorkerCoroutine) -> WorkerCoroutine:
    """`job`, run again (once, on a fresh connection) if it failed on a lost connection."""

    @functools.wraps(job)
    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        return await retry_on_lost_connection(lambda: job(ctx, *args, **kwargs), idempotent=True)

    return run
