"""Killing the app's PostgreSQL connections the way an operator, a failover or a proxy restart
does: `pg_terminate_backend` on every backend of the test's database, from an admin connection
of its own."""

from __future__ import annotations

import asyncio
import threading

import asyncpg

from tests.conftest import POSTGRES_URL

# Two statements, so that only the test database's backends can ever be chosen: in one WHERE
# clause the planner may call pg_terminate_backend before the filter on the database.
_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
_TERMINATE = "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid"
_LEFT = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])"


def database_name(database_url: str) -> str:
    return database_url.rsplit("/", 1)[1].split("?", 1)[0]


async def _terminate(name: str, *, until_gone: bool) -> int:
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
    try:
        killed = [row["pid"] for row in await admin.fetch(_BACKENDS, name)]
        await admin.execute(_TERMINATE, killed)
        for _ in range(1000 if until_gone else 0):  # until they are gone (10 s at most)
            if not await admin.fetchval(_LEFT, killed):
                break
            await asyncio.sleep(0.01)
        return len(killed)
    finally:
        admin.terminate()  # at once: no loop turn for the app's connections to notice


def terminate_backends_unnoticed(database_url: str) -> int:
    """Terminate every backend of the database and wait until they are gone, *without letting
    the caller's event loop run*: the app's pooled connections still look open, and the
    server's "terminating connection" notice sits unread in their sockets, as when a busy
    process's connections are killed mid-burst. Returns how many were terminated."""
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            asyncio.run(_terminate(database_name(database_url), until_gone=True))
        )
    )
    thread.start()
    thread.join()
    return result[0]


async def terminate_backends(database_url: str) -> int:
    """Terminate every backend of the database from this loop and return as soon as the server
    says it did: the app's connections may have read the notice, or not yet, by the time they
    are next used (what a live process meets)."""
    return await _terminate(database_name(database_url), until_gone=False)


async def terminate_backends_half_noticed(database_url: str) -> int:
    """Terminate every backend, then let the loop read the server's notice but not yet the
    socket's end: the connections are not closed, but asyncpg knows they are busy failing and
    refuses to send ("cannot switch to state …"). Two loop turns: one reads the notice, the
    next would read the end of file."""
    killed = terminate_backends_unnoticed(database_url)
    for _ in range(2):
        await asyncio.sleep(0)
    return killed
