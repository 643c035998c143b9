"""Ending a run survives a dropped database connection: the statement is run once more, on a
fresh connection (what counts as a lost connection, and how to get a fresh one, live in
`loyalty.db_retry`).

Every statement that ends a run's claims is conditional on the run's own token (`claimed_by`),
so running it twice has the effect of running it once. Without the retry a run's release fails
and its claims wait out their lapse (two minutes) instead of being due at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from loyalty.db_retry import fresh_connections, is_connection_lost

log = logging.getLogger(__name__)

T = TypeVar("T")


async def once_more_if_disconnected(what: str, statement: Callable[[], Awaitable[T]]) -> T:
    """Run `statement`; if the connection was lost, run it once more on a fresh connection."""
    try:
        return await statement()
    except Exception as exc:
        if not is_connection_lost(exc):
            raise
        log.warning("database connection lost during %s (%s); running it once more", what, exc)
    await fresh_connections()
    return await statement()
