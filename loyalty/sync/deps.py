"""What jobs need from their process: settings and one shared HTTP client (never a global)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from loyalty.settings import Settings


@dataclass(frozen=True)
class JobDeps:
    settings: Settings
    http: httpx.AsyncClient
