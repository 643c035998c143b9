"""The route table's order (web.app.route_table): the two hot mounts come first, which is
only harmless while no later route could have matched their paths."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount

from loyalty.shops.demo_mode import demo_settings
from tests.web.demo.conftest import base_settings
from web.app import route_table

HOT = ("/proxy", "/api/v1")  # the storefront's GET and the award API, matched before the rest


def test_the_hot_mounts_come_first_and_nothing_after_them_shares_their_paths(
    db: str, tmp_path: Path
) -> None:
    plain = base_settings(db, tmp_path)
    for table in (route_table(plain), route_table(demo_settings(plain))):
        first = [(type(route), getattr(route, "path", "")) for route in table[: len(HOT)]]
        assert first == [(Mount, prefix) for prefix in HOT]
        later = [getattr(route, "path", "") for route in table[len(HOT) :]]
        shadowed = [p for p in later for prefix in HOT if p == prefix or p.startswith(prefix + "/")]
        assert later and shadowed == []
