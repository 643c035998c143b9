"""Fixtures of the hardening tests: the public API's seeded world (tests/web/public_api), and
clients for each audience acting for its shop: an integration (API key), the embedded admin (ID
token), the storefront (signed app proxy query) and Shopify (signed webhooks)."""

from __future__ import annotations

import httpx
import pytest

from tests.web.admin_client import Admin
from tests.web.public_api import conftest as public_api
from tests.web.public_api.helpers import World

# The public API's seeded world and keyed client, shared (pytest finds fixtures by name here).
world = public_api.world
api = public_api.api


def shop_name(world: World) -> str:
    return world.shop.domain.removesuffix(".myshopify.com")


@pytest.fixture
def admin(client: httpx.AsyncClient, world: World) -> Admin:
    """App Bridge requests for the world's shop."""
    return Admin(client, shop_name=shop_name(world))
