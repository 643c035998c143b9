"""The points lifecycle: pending points approved when due, lots expired at their date (with
"expiring soon" notices), and birthday/anniversary awards, each safe to run at any time or
twice, plus the schedulers that queue them (loyalty.lifecycle.schedule)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class LifecycleRun:
    """What one run did: `done` items (entries approved, lots expired, awards made), the
    customer-sync jobs it owes (dispatch them after it returns) and whether work is left."""

    done: int = 0
    jobs: set[str] = field(default_factory=set)
    more: bool = False
