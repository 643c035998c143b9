"""Stopping a process's background loop (the outbox dispatcher, the periodic jobs) without
cancelling it mid-query: a cancellation landing inside a database call can leave SQLite's
connection lock held, so the step in progress is let finish for up to `grace` seconds."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def finish_or_cancel(task: asyncio.Task[Any] | None, *, grace: float) -> None:
    """Wait up to `grace` seconds for `task` (already told to stop), then cancel it."""
    if task is None:
        return
    try:
        async with asyncio.timeout(grace):
            await asyncio.shield(task)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
