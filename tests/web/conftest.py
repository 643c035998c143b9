"""Fixtures shared by the `/app/api` tests: the shop the ID tokens name, another shop, and an
App Bridge client for the first (a module defines its own to differ)."""

from __future__ import annotations

import httpx
import pytest

from loyalty.models import Shop
from tests.factories import create_shop
from tests.web.admin_client import Admin


@pytest.fixture
async def shop(db: str) -> Shop:
    return await create_shop(domain="demo.myshopify.com")


@pytest.fixture
async def other_shop(db: str) -> Shop:
    return await create_shop(domain="other.myshopify.com")


@pytest.fixture
def admin(client: httpx.AsyncClient, shop: Shop) -> Admin:
    return Admin(client)
