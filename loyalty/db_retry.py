"""Riding out a lost PostgreSQL connection: what may run again on a fresh connection, and the
Tortoise client that does it for every statement where that is provably safe.

A pooled connection dies when its backend is terminated (failover, restart, `pg_terminate_backend`,
a proxy or firewall dropping idle sockets). The process learns of it only when it next uses the
connection: asyncpg refuses to send ("cannot switch to state 12", "connection is closed"), or the
statement goes out and the answer is the server's goodbye ("connection was closed in the middle
of operation"). Running it again is safe only when it provably had no effect:

- asyncpg refused to send it (`statement_not_sent`): it never reached the server;
- it only reads (a statement that starts with `SELECT`; the app calls no side-effecting function
  from one), or it is a `BEGIN`, which changes nothing by itself;
- the caller proves it had no effect (`not_executed`, e.g. none of the rows it would have
  inserted exists), or its effect is the same run twice (`idempotent`: a job, a claim release).

A write that was sent and may have committed is never run again without such a proof, and a
statement inside a transaction never is: the transaction died with the connection, and only its
owner can run it again as a whole.

Every retry runs on a fresh connection. asyncpg's pool is last-in-first-out and learns a
connection is dead only once its socket's end has been read, so the connection just released
would be handed straight back; expiring the pool makes every connection opened before the loss
reconnect on its next use instead (the others were killed by the same event, most likely).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionContextPooled
from tortoise.connection import get_connections

log = logging.getLogger(__name__)

T = TypeVar("T")

# asyncpg's own checks before it writes anything: the protocol is not idle (the server's
# "terminating connection" notice was read, its end of file not yet), or the connection is
# already marked closed.
_UNSENT_MESSAGES = ("cannot switch to state", "connection is closed", "not connected")
_LOST_MESSAGES = (*_UNSENT_MESSAGES, "the underlying connection is closed")
# The connection broke (08003, 08006, 08001, 08007) or the server said goodbye: terminated by an
# administrator, crashed, or not accepting connections yet (57P01-57P03).
_LOST_ERRORS = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.ClientCannotConnectError,
    asyncpg.exceptions.TransactionResolutionUnknownError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,  # the socket itself: reset, refused, broken pipe
)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it was raised from or during (a failed rollback hides the real loss)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _asyncpg_refusal(exc: BaseException, messages: tuple[str, ...]) -> bool:
    return isinstance(
        exc, asyncpg.exceptions.InterfaceError | asyncpg.exceptions.InternalClientError
    ) and any(message in str(exc) for message in messages)


def statement_not_sent(exc: BaseException) -> bool:
    """Whether `exc` proves the statement never reached the server: asyncpg refused to send it
    on a connection it already knew was dead, or a fresh connection could not be opened."""
    return (
        _asyncpg_refusal(exc, _UNSENT_MESSAGES)
        or isinstance(exc, ConnectionRefusedError)
        or isinstance(exc, asyncpg.exceptions.CannotConnectNowError)
    )


def is_connection_lost(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) says the database connection was lost, before
    or while the statement ran. On its own this does *not* make a retry safe: see
    `statement_not_sent` and `retry_on_lost_connection`."""
    return any(
        isinstance(link, _LOST_ERRORS) or _asyncpg_refusal(link, _LOST_MESSAGES)
        for link in _chain(exc)
    )


def _reads_only(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT")


async def fresh_connections() -> None:
    """Make the next statements run on connections opened from now on (see the module doc)."""
    client: Any = connections.get("default")
    while hasattr(client, "_parent"):  # inside a transaction (or a savepoint): the pool's client
        client = client._parent
    if isinstance(client, AsyncpgDBClient):
        await client._expire_connections()


async def retry_on_lost_connection(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 2,
    idempotent: bool = False,
    not_executed: Callable[[], Awaitable[bool]] | None = None,
) -> T:
    """`await fn()`; if it fails because the connection was lost and running it again is
    provably safe, run it again on a fresh connection, up to `attempts` runs in all.

    Safe means: the statement was never sent (`statement_not_sent`); or `idempotent` (its
    effect is the same however often it runs: a job, a release of one's own claims); or,
    when the connection broke after sending, `not_executed()` answers True (the caller's own
    check, run on a fresh connection, that nothing was written). Any other failure, and the
    last attempt's, is raised unchanged."""
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except Exception as exc:
            if attempt >= attempts or not is_connection_lost(exc):
                raise
            await fresh_connections()
            if not (idempotent or statement_not_sent(exc)):
                if not_executed is None or not await not_executed():
                    raise
            log.warning(
                "database connection lost (%s: %s); running it again on a fresh connection",
                type(exc).__name__,
                exc,
            )
    raise AssertionError("unreachable: the last attempt returns or raises")


class RetryingAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client, running again on a fresh connection what the module doc says
    is safe: outside a transaction, a statement never sent or a read; and a transaction's
    BEGIN. Used for every PostgreSQL connection (loyalty.db points Tortoise's engine here)."""

    async def execute_query(self, query: str, values: list[Any] | None = None) -> Any:
        run = super().execute_query
        return await _retry_statement(query, lambda: run(query, values))

    async def execute_query_dict(self, query: str, values: list[Any] | None = None) -> Any:
        run = super().execute_query_dict
        return await _retry_statement(query, lambda: run(query, values))

    async def execute_insert(self, query: str, values: list[Any]) -> Any:
        run = super().execute_insert
        return await _retry_statement(query, lambda: run(query, values))

    def _in_transaction(self) -> TransactionContextPooled:
        return _RetryingBegin(TransactionWrapper(self), self._pool_init_lock)


async def _retry_statement(query: str, run: Callable[[], Awaitable[T]]) -> T:
    return await retry_on_lost_connection(run, idempotent=_reads_only(query))


class _RetryingBegin(TransactionContextPooled):
    """Tortoise's pooled transaction, with two repairs at its start. A BEGIN that fails on a
    lost connection is run again on a fresh one (it has had no effect). And a failed BEGIN
    gives its connection back and unsets the task's transaction: Tortoise raises from
    `__aenter__` without either, which leaks the connection from the pool for good and leaves
    the task's later queries on the dead transaction."""

    async def __aenter__(self) -> Any:
        await self.ensure_connection()
        client: Any = self.client
        for attempt in (1, 2):
            pool = client._parent._pool
            client._connection = await pool.acquire()
            self.token = get_connections().set(self.connection_name, client)
            try:
                await client.begin()
            except BaseException as exc:
                get_connections().reset(self.token)
                # Whatever state it is in, it is not reused. (A connection that closed itself
                # was already handed back by asyncpg, and refuses to be terminated.)
                with contextlib.suppress(asyncpg.exceptions.InterfaceError):
                    client._connection.terminate()
                await pool.release(client._connection)
                if attempt == 2 or not isinstance(exc, Exception) or not is_connection_lost(exc):
                    raise
                await fresh_connections()
                log.warning("database connection lost at BEGIN (%s); on a fresh one", exc)
            else:
                return client
        raise AssertionError("unreachable: the second attempt returns or raises")


# Tortoise's engine hook: `{"engine": "loyalty.db_retry"}` makes Tortoise use this client.
client_class = RetryingAsyncpgClient
