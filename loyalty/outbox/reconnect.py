"""Ending a run survives a dropped database connection: the statement is retried once, on a
fresh connection.

PostgreSQL may close a pooled connection under us (a restart, a failover, an idle timeout, a
terminated backend). asyncpg then fails the next statement on it before sending anything:
`ConnectionDoesNotExistError`, or `InterfaceError` "cannot switch to state …" when the pool
hands out a connection the server already closed; Tortoise passes both through untranslated.
Retrying such a statement is safe (it never ran), and without it a run's release fails and its
claims wait out their lapse (two minutes) instead of being due at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from loyalty.db import connection

log = logging.getLogger(__name__)

T = TypeVar("T")

_LOST_WORDS = ("cannot switch to state", "connection is closed", "connection was closed")


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is a connection the server closed under us."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (
                asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.ConnectionFailureError,
                asyncpg.exceptions.AdminShutdownError,
                ConnectionResetError,
            ),
        ):
            return True
        if isinstance(current, asyncpg.exceptions.InterfaceError) and any(
            words in str(current) for words in _LOST_WORDS
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


async def once_more_if_disconnected(what: str, statement: Callable[[], Awaitable[T]]) -> T:
    """Run `statement`; if the connection was lost, drop the pool's connections (the others
    are likely dead too) and run it once more on a fresh one."""
    try:
        return await statement()
    except Exception as exc:
        if not connection_lost(exc):
            raise
        log.warning("database connection lost during %s (%s); retrying once", what, exc)
    expire = getattr(connection(), "_expire_connections", None)
    if expire is not None:
        await expire()
    return await statement()
