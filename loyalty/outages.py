"""Logging a dependency's outage by its state changes: one WARNING when it becomes unreachable,
one when it is back (with how long it was gone), and nothing but DEBUG lines in between, however
many requests, polls or calls meet the outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class OutageLog:
    """`down` is logged with the failure (one `%s`), `back` with the seconds it lasted (one
    `%.1f`-style placeholder)."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        down: str,
        back: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._down = down
        self._back = back
        self._clock = clock
        self.since: float | None = None

    def failed(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = self._clock()
            self._log.warning(self._down, exc)
        else:
            self._log.debug("still unreachable: %s", exc)

    def succeeded(self) -> None:
        if self.since is not None:
            self._log.warning(self._back, self._clock() - self.since)
            self.since = None
