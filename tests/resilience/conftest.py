"""Fixtures for the fault tests: a private redis-server to kill, and the public API's seeded
world and keyed client (from tests/web/public_api)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.resilience.redis_server import RedisServer
from tests.web.public_api.conftest import api, world

__all__ = ["api", "redis_server", "world"]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server, not started yet (so unreachable); killed afterwards."""
    server = RedisServer(tmp_path)
    yield server
    server.kill()
