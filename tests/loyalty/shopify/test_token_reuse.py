"""A shop's token reused for TOKEN_REUSE instead of read for every Shopify call, and still honoured
correctly: a token rotated by another process is picked up on Shopify's 401 without spending
the refresh token, and a shop uninstalled meanwhile is not connected. Real database; Shopify
stood in at the HTTP edge."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx
import time_machine

from loyalty.clock import utcnow
from loyalty.models import Shop
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.operations import SHOP_ID
from loyalty.shopify.tokens import TOKEN_REUSE, ShopNotConnectedError, TokenProvider
from standins.shopify_admin import ShopifyAdmin
from tests.loyalty.shopify.test_shopify_tokens import (
    BOX,
    GRAPHQL_URL,
    TOKEN_URL,
    Sleeps,
    admin,
    connected_shop,
    http,
    provider,
    sleeps,
)

__all__ = ["admin", "http", "provider", "sleeps"]  # the fixtures, shared


async def rotate(shop: Shop, token: str) -> None:
    """Another process stored a new token for the shop."""
    await Shop.filter(id=shop.id).update(access_token_enc=BOX.encrypt(token))


def refusing(old: str, shopify: ShopifyAdmin) -> object:
    """Shopify refusing a revoked token with 401 and answering any other."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["X-Shopify-Access-Token"] == old:
            return httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})
        return shopify(request)

    return answer


class TestReuse:
    async def test_the_shop_row_is_read_once_within_the_reuse_time(
        self, db: str, provider: TokenProvider
    ) -> None:
        """A token rotated meanwhile is not seen until the reuse time is over: the row was not
        read again."""
        shop = await connected_shop()
        with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
            assert (await provider.access(shop.id)).token == "shpat_old"
            await rotate(shop, "shpat_rotated")
            traveller.shift(TOKEN_REUSE / 2)
            assert (await provider.access(shop.id)).token == "shpat_old"
            traveller.shift(TOKEN_REUSE)
            assert (await provider.access(shop.id)).token == "shpat_rotated"


class TestStillHonoured:
    async def test_a_token_rotated_elsewhere_is_used_on_the_401_without_a_refresh(
        self, db: str, admin: AdminApi, sleeps: Sleeps
    ) -> None:
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        with respx.mock(assert_all_called=False) as mock:
            refresh = mock.post(TOKEN_URL)
            route = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await admin.execute(shop.id, SHOP_ID)
            await rotate(shop, "shpat_rotated")  # and Shopify revoked the old one
            route.mock(side_effect=refusing("shpat_old", shopify))
            assert await admin.execute(shop.id, SHOP_ID) == {"shop": {"id": shopify.shop_gid}}
        tokens = [call.request.headers["X-Shopify-Access-Token"] for call in route.calls]
        assert tokens == ["shpat_old", "shpat_old", "shpat_rotated"]
        assert not refresh.called  # the refresh token was not spent

    async def test_a_shop_uninstalled_meanwhile_is_not_connected(
        self, db: str, admin: AdminApi
    ) -> None:
        shop = await connected_shop()
        shopify = ShopifyAdmin()
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await admin.execute(shop.id, SHOP_ID)
            await Shop.filter(id=shop.id).update(uninstalled_at=utcnow())  # token revoked
            route.mock(side_effect=refusing("shpat_old", shopify))
            with pytest.raises(ShopNotConnectedError):
                await admin.execute(shop.id, SHOP_ID)
        assert route.call_count == 2
