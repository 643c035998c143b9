"""Who reaches the local demo (web/demo/guard.py, loyalty/shops/demo_mode.py): nobody but this
machine, in the demo process, for a demo shop. Each refusal is shown beside the same request
answered when it is allowed, so each test fails if its guard is removed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from loyalty.crypto import SecretBox
from loyalty.models import Shop
from loyalty.settings import SHOPIFY_API_VERSION, Settings
from loyalty.shopify.operations import SHOP_ID
from loyalty.shops.demo import DemoShop
from loyalty.shops.demo_mode import DemoRefused, connect_demo_shop, demo_settings
from tests.factories import create_shop
from tests.web.demo.conftest import base_settings, running
from web import asgi
from web.app import route_table

GRAPHQL = f"/demo/shopify/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
PARTS = ["page", "state", "graphql"]


async def ask(http: httpx.AsyncClient, part: str, shop: Shop, token: str) -> httpx.Response:
    """One request to a part of the local Shopify, for `shop`, as its legitimate user sends it."""
    if part == "page":
        return await http.get("/demo/shopify", params={"shop": shop.domain})
    if part == "state":
        return await http.get("/demo/shopify/state.json", params={"shop": shop.domain})
    headers = {"X-Shopify-Shop-Domain": shop.domain, "X-Shopify-Access-Token": token}
    return await http.post(GRAPHQL, json={"query": SHOP_ID.document}, headers=headers)


def token_of(shop: Shop, settings: Settings) -> str:
    assert shop.access_token_enc is not None
    return SecretBox(settings.secret_key).decrypt(shop.access_token_enc)


@pytest.mark.parametrize("part", PARTS)
class TestRefusals:
    async def test_from_a_client_elsewhere(
        self, demo: Settings, seeded: DemoShop, part: str
    ) -> None:
        token = token_of(seeded.shop, demo)
        async with running(demo) as http:
            allowed = await ask(http, part, seeded.shop, token)
        async with running(demo, client=("10.0.0.5", 1234)) as http:
            refused = await ask(http, part, seeded.shop, token)

        assert (allowed.status_code, refused.status_code) == (200, 404)

    @pytest.mark.parametrize(
        "host", ["demo.example.com", "localhost.example.com", "192.168.1.20:8000", "0.0.0.0:8000"]
    )
    async def test_with_a_host_header_that_is_not_loopback(
        self, demo: Settings, seeded: DemoShop, part: str, host: str
    ) -> None:
        """A page elsewhere reaching 127.0.0.1 through its own DNS name (rebinding) is refused."""
        token = token_of(seeded.shop, demo)
        async with running(demo, host="localhost:8000") as http:
            allowed = await ask(http, part, seeded.shop, token)
        async with running(demo, host=host) as http:
            refused = await ask(http, part, seeded.shop, token)

        assert (allowed.status_code, refused.status_code) == (200, 404)

    async def test_for_a_shop_that_is_not_a_demo_shop(
        self, demo: Settings, seeded: DemoShop, part: str
    ) -> None:
        """A real shop (is_demo false), even one holding a token, is unknown to the demo."""
        real = await create_shop(
            domain="real-store.myshopify.com", installed_at=seeded.shop.created_at
        )
        real.access_token_enc = SecretBox(demo.secret_key).encrypt("shpat_real")
        await real.save()
        async with running(demo) as http:
            allowed = await ask(http, part, seeded.shop, token_of(seeded.shop, demo))
            refused = await ask(http, part, real, "shpat_real")

        assert (allowed.status_code, refused.status_code) == (200, 404)

    async def test_with_real_credentials_configured(
        self, demo: Settings, seeded: DemoShop, part: str
    ) -> None:
        """LOYALTY_DEMO beside a real app's credentials serves no demo, even if the settings
        were put together without demo_settings() (which refuses them)."""
        real = demo.with_overrides(shopify_api_key="real-client-id", shopify_api_secret="real")
        token = token_of(seeded.shop, demo)
        async with running(demo) as http:
            allowed = await ask(http, part, seeded.shop, token)
        async with running(real) as http:
            refused = await ask(http, part, seeded.shop, token)

        assert (allowed.status_code, refused.status_code) == (200, 404)
        with pytest.raises(DemoRefused, match="real Shopify credentials"):
            demo_settings(real)


class TestDemoOff:
    async def test_no_demo_route_exists(self, db: str, tmp_path: Path, seeded: DemoShop) -> None:
        """Without the demo, /demo is not routed at all (the same settings with it are)."""
        off = base_settings(db, tmp_path)
        on = demo_settings(off)

        def demo_paths(settings: Settings) -> list[str]:
            return [p for r in route_table(settings) if (p := getattr(r, "path", "")) == "/demo"]

        async with running(off) as http:
            answers = [await ask(http, part, seeded.shop, "any") for part in PARTS]

        assert (demo_paths(off), demo_paths(on)) == ([], ["/demo"])
        assert [a.status_code for a in answers] == [404, 404, 404]


class TestRealCredentials:
    # `loyalty serve --demo` beside them exits 2: tests/test_cli.py (TestServe).

    def test_the_asgi_factory_refuses_the_demo_beside_them(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`uvicorn web.asgi:create` (every web process) applies the same refusal."""
        monkeypatch.setenv("LOYALTY_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("LOYALTY_DEMO", "1")
        monkeypatch.setenv("SHOPIFY_ADMIN_BASE_URL", "http://127.0.0.1:8000/demo/shopify")
        monkeypatch.setenv("SHOPIFY_API_KEY", "real-client-id")
        monkeypatch.setenv("SHOPIFY_API_SECRET", "real-client-secret")
        with pytest.raises(DemoRefused):
            asgi.create()


class TestTokens:
    async def test_only_demo_shops_are_connected_to_the_local_shopify(self, demo: Settings) -> None:
        """connect_demo_shop refuses a real shop: its token is never replaced by a demo one."""
        real = await create_shop(domain="real-store.myshopify.com")
        with pytest.raises(DemoRefused):
            await connect_demo_shop(real, SecretBox(demo.secret_key))
        assert (await Shop.get(id=real.id)).access_token_enc is None
