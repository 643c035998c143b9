"""Logging a dependency's outage by its state changes: one WARNING when it becomes unreachable,
one when it is back (with how long it was gone), and nothing but DEBUG lines in between, however
many requests, polls or calls meet the outage.

`INTEGRATIONS` is the same for each shop's integrations (Shopify, Klaviyo, Omnisend,
Postscript): the sync jobs report every outcome, and only a change is logged, a WARNING with the
reason when one starts failing and an INFO when it recovers, never one line per retry. The state
lives in the process (each worker logs its own first failure); what the merchant sees in the
admin is read from the database (the integration's status, the held intents)."""

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
        back_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._down = down
        self._back = back
        self._back_level = back_level
        self._clock = clock
        self.since: float | None = None

    def failed(self, exc: BaseException | str) -> None:
        if self.since is None:
            self.since = self._clock()
            self._log.warning(self._down, exc)
        else:
            self._log.debug("still unreachable: %s", exc)

    def succeeded(self) -> None:
        if self.since is not None:
            self._log.log(self._back_level, self._back, self._clock() - self.since)
            self.since = None


class IntegrationHealth:
    """One OutageLog per (shop, integration), kept only while it is failing."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._failing: dict[tuple[str, str], OutageLog] = {}

    def failing(self, shop: str, integration: str, reason: BaseException | str) -> None:
        """An attempt failed: a WARNING with `reason` if it was healthy, else DEBUG only."""
        key = (shop, integration)
        if key not in self._failing:
            who = f"{integration} for shop {shop}".replace("%", "%%")
            self._failing[key] = OutageLog(
                self._log,
                down=f"{who} is failing: %s (retried on its own; logged again when it recovers)",
                back=f"{who} recovered after %.0fs",
                back_level=logging.INFO,
            )
        self._failing[key].failed(reason)

    def healthy(self, shop: str, integration: str) -> None:
        """An attempt succeeded: an INFO if it was failing, else nothing."""
        outage = self._failing.pop((shop, integration), None)
        if outage is not None:
            outage.succeeded()

    def is_failing(self, shop: str, integration: str) -> bool:
        return (shop, integration) in self._failing

    def clear(self) -> None:
        """Forget every state, as a new process starts (each test starts so)."""
        self._failing.clear()


INTEGRATIONS = IntegrationHealth(logging.getLogger("loyalty.integrations"))
SHOPIFY = "Shopify"  # the metafield syncs, as INTEGRATIONS names them
