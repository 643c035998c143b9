"""What the benches' partner stand-ins share: the published rate limits each platform enforces
(the stand-ins refuse past them with 429, as the platforms would), the throwaway API keys the
benches configure, and two small helpers. Used by bench/sync_burst.py and bench/fault_suite.py.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

PLATFORM_KEYS = {
    "klaviyo": "pk_bench_0123456789abcdef",
    "omnisend": "bench-omnisend-key",
    "postscript": "sk_bench_0123456789abcdef",
}


@dataclass
class Limit:
    """Calls allowed per window (fixed windows, as Klaviyo and Postscript count them; a
    sliding minute for Omnisend, which is stricter than a fixed one)."""

    windows: tuple[tuple[float, int], ...]  # (seconds, calls)
    sliding: bool = False
    seen: list[float] = field(default_factory=list)
    refused: int = 0

    def admit(self, now: float) -> bool:
        for seconds, calls in self.windows:
            start = now - seconds if self.sliding else (now // seconds) * seconds
            if sum(1 for t in self.seen[-calls - 1 :] if t >= start) >= calls:
                self.refused += 1
                return False
        self.seen.append(now)
        return True


def published_limits() -> dict[str, Limit]:
    """Each platform's documented limits, one fresh set per stand-in."""
    return {
        "klaviyo profiles": Limit(((1, 75), (60, 750))),
        "klaviyo events": Limit(((1, 350), (60, 3500))),
        "omnisend": Limit(((60, 400),), sliding=True),
        "postscript": Limit(((1, 15),)),
    }


def pg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
