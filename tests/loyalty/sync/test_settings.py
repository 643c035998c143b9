"""Where the sync jobs send their calls: the real hosts by default, stand-ins when configured."""

from __future__ import annotations

import httpx
import respx

from loyalty.settings import Settings
from loyalty.shopify.operations import SHOP_ID
from loyalty.sync.deps import new_http_client
from standins.shopify_admin import ShopifyAdmin


class TestBaseUrls:
    def test_default_to_the_real_hosts(self) -> None:
        settings = Settings.from_env({})
        assert settings.klaviyo_base_url == "https://a.klaviyo.com"
        assert settings.omnisend_base_url == "https://api.omnisend.com/api"
        assert settings.postscript_base_url == "https://api.postscript.io"
        assert settings.shopify_admin_base_url is None

    def test_the_environment_points_them_elsewhere(self) -> None:
        settings = Settings.from_env(
            {
                "KLAVIYO_BASE_URL": "http://127.0.0.1:9/klaviyo/",
                "OMNISEND_BASE_URL": "http://127.0.0.1:9/omnisend",
                "POSTSCRIPT_BASE_URL": "http://127.0.0.1:9/postscript",
                "SHOPIFY_ADMIN_BASE_URL": "http://127.0.0.1:9/shopify/",
                "MARKETING_SYNC_DELAY": "2.5",
            }
        )
        assert settings.klaviyo_base_url == "http://127.0.0.1:9/klaviyo"
        assert settings.shopify_admin_base_url == "http://127.0.0.1:9/shopify"
        assert settings.marketing_sync_delay == 2.5


class TestShopifyRedirect:
    async def test_admin_api_calls_go_to_the_stand_in_with_the_shop_named(self) -> None:
        settings = Settings(shopify_admin_base_url="http://stub.test/shopify")
        shopify = ShopifyAdmin()
        async with new_http_client(settings) as http:
            with respx.mock(assert_all_called=True) as mock:
                route = mock.post(
                    "http://stub.test/shopify/admin/api/2026-10/graphql.json",
                    headers={"X-Shopify-Shop-Domain": "demo.myshopify.com"},
                ).mock(side_effect=shopify)
                answer = await http.post(
                    "https://demo.myshopify.com/admin/api/2026-10/graphql.json",
                    json={"query": SHOP_ID.document},
                )
                other = mock.get("https://a.klaviyo.com/api/profiles").mock(
                    return_value=httpx.Response(200)
                )
                await http.get("https://a.klaviyo.com/api/profiles")  # partners: untouched
        assert route.call_count == 1 and other.call_count == 1
        assert answer.json()["data"] == {"shop": {"id": shopify.shop_gid}}
