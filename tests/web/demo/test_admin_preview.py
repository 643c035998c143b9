"""The admin preview (`/demo/admin`, web.demo.admin_preview): the frame page loads the real
`/app` for the demo shop with a session token the demo signed, the framed documents load the
local stand-ins (never Shopify's CDN) and may be framed by the preview, `/demo/admin/id-token`
hands App Bridge fresh tokens; and each refusal (another shop, real credentials, a client
elsewhere, the demo off) answers 404 with no token. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import respx
from asgi_lifespan import LifespanManager

from loyalty.crypto import SecretBox
from loyalty.models import RuleCategory, Shop
from loyalty.settings import Settings
from loyalty.shops.demo import DEMO_SHOP, seed_demo
from loyalty.shops.demo_mode import DEMO_API_KEY, DemoRefused, demo_secret
from tests.browser.admin import installed_shop
from tests.demo_app import BANNER, base_settings, demo_app_settings
from tests.factories import create_rule
from tests.tokens import CLIENT_ID, CLIENT_SECRET, id_token
from web.admin.shopify_scripts import APP_BRIDGE, POLARIS
from web.app import create_app
from web.demo.session_tokens import demo_session_token

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

LOOPBACK = ("127.0.0.1", 50123)
REAL_SHOP = "real-shop.myshopify.com"


@pytest.fixture
def settings(db: str, tmp_path: Path) -> Settings:
    """The process `loyalty serve --demo` runs: the demo app's own credentials."""
    return demo_app_settings(db, tmp_path)


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, *, client: tuple[str, int] = LOOPBACK, host: str = "127.0.0.1:8000"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app for `settings`, reached from `client` with the Host header `host`."""
    app = create_app(settings, manage_db=False, job_defer=0)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
            yield http


@pytest.fixture
async def demo(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings) as http:
        yield http


@pytest.fixture
async def production(db: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app with real Shopify credentials (tests/tokens.py's), on the same database."""
    real = base_settings(db, tmp_path, shopify_api_key=CLIENT_ID, shopify_api_secret=CLIENT_SECRET)
    async with serving(real) as http:
        yield http


@pytest.fixture
async def demo_shop(db: str) -> Shop:
    """The shop `loyalty demo` seeds, connected (the local Shopify gave it an offline token)."""
    return await installed_shop(domain=DEMO_SHOP, name="Demo Store", is_demo=True)


@pytest.fixture
async def real_shop(db: str) -> Shop:
    """A real installed shop in the same database: the demo never acts for it."""
    return await installed_shop(domain=REAL_SHOP, name="Real Store")


def claims(token: str, settings: Settings) -> dict[str, Any]:
    secret = demo_secret(settings.data_dir)
    return jwt.decode(token, secret, algorithms=["HS256"], audience=DEMO_API_KEY)  # type: ignore[no-any-return]


def framed_url(page: httpx.Response) -> str:
    found = re.search(r'<iframe[^>]*\ssrc="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1).replace("&amp;", "&")


class TestFramePage:
    async def test_frames_the_app_home_with_a_token_the_demo_signed(
        self, demo: httpx.AsyncClient, demo_shop: Shop, settings: Settings
    ) -> None:
        page = await demo.get("/demo/admin")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.text))
        assert BANNER in text
        assert 'href="/demo/storefront"' in page.text and 'href="/demo/shopify"' in page.text

        src = urlsplit(framed_url(page))
        query = {k: v[0] for k, v in parse_qs(src.query).items()}
        assert src.path == "/app"
        assert (query["shop"], query["embedded"]) == (DEMO_SHOP, "1")
        token = claims(query["id_token"], settings)
        assert token["dest"] == f"https://{DEMO_SHOP}"
        assert token["iss"] == f"https://{DEMO_SHOP}/admin"
        assert token["exp"] - token["iat"] == 60 and token["nbf"] == token["iat"]
        assert token["sub"] and token["jti"] and token["sid"]

        # The framed document is the real admin home, verified and rendered for the demo shop.
        home = await demo.get(framed_url(page))
        assert home.status_code == 200, home.text
        assert "Loyalty programme" in home.text and DEMO_SHOP in home.text

    async def test_a_shop_loyalty_demo_seeded_opens_without_token_exchange(
        self, demo: httpx.AsyncClient, settings: Settings
    ) -> None:
        """`loyalty demo` plays Shopify-managed installation: the shop already holds the offline
        token the local Shopify accepts, so the first load has nothing to exchange (an
        exchange would go to the local Shopify, which has no token endpoint, and fail)."""
        seeded = await seed_demo(box=SecretBox(settings.secret_key))
        with respx.mock(assert_all_called=False) as outside:
            exchange = outside.post(url__regex=r"/admin/oauth/access_token$")
            home = await demo.get(framed_url(await demo.get("/demo/admin")))
        assert home.status_code == 200, home.text
        assert "Loyalty programme" in home.text
        assert not exchange.called and not outside.calls
        shop = await Shop.get(id=seeded.shop.id)
        assert shop.access_token_enc == seeded.shop.access_token_enc  # the demo's, kept

    async def test_another_demo_shop_is_chosen_by_its_domain(
        self, demo: httpx.AsyncClient, demo_shop: Shop, settings: Settings
    ) -> None:
        second = await installed_shop(domain="second.myshopify.com", is_demo=True)
        page = await demo.get("/demo/admin", params={"shop": second.domain})
        assert page.status_code == 200
        query = parse_qs(urlsplit(framed_url(page)).query)
        assert query["shop"] == [second.domain]
        assert claims(query["id_token"][0], settings)["dest"] == f"https://{second.domain}"


class TestFramedDocuments:
    async def test_load_the_local_stand_ins_and_may_be_framed_by_the_preview(
        self, demo: httpx.AsyncClient, demo_shop: Shop
    ) -> None:
        home = await demo.get(framed_url(await demo.get("/demo/admin")))
        assert "cdn.shopify.com" not in home.text and "cdn.shopify.com" not in home.headers["link"]
        for name in ("app-bridge.js", "polaris.js"):
            src = re.search(rf'<script src="(/demo/static/{name}\?v=\w+)"', home.text)
            assert src is not None, name
            script = await demo.get(src.group(1))
            assert script.status_code == 200 and "stand-in" in script.text
        csp = home.headers["content-security-policy"]
        assert csp.startswith(f"frame-ancestors https://{DEMO_SHOP} https://admin.shopify.com")
        assert "'self'" in csp

    async def test_the_bounce_page_loads_the_local_app_bridge(
        self, demo: httpx.AsyncClient, demo_shop: Shop
    ) -> None:
        """A page's own link carries no token: the bounce page must work offline, framed."""
        bounced = await demo.get(f"/app/rules?shop={DEMO_SHOP}&embedded=1")
        assert bounced.status_code == 302
        bounce = await demo.get(bounced.headers["location"])
        assert bounce.status_code == 200
        assert "/demo/static/app-bridge.js" in bounce.text
        assert "cdn.shopify.com" not in bounce.text + bounce.headers.get("link", "")
        assert "'self'" in bounce.headers["content-security-policy"]

    async def test_production_documents_load_shopify_cdn_and_are_not_framed_by_self(
        self, production: httpx.AsyncClient
    ) -> None:
        """The same pages in an app with real credentials: unchanged."""
        await installed_shop(domain="prod-shop.myshopify.com")
        home = await production.get(
            f"/app?shop=prod-shop.myshopify.com&embedded=1&id_token={id_token('prod-shop')}"
        )
        assert home.status_code == 200
        assert f'<script src="{APP_BRIDGE}">' in home.text
        assert f'<script src="{POLARIS}">' in home.text
        assert "/demo/static/" not in home.text
        assert "'self'" not in home.headers["content-security-policy"]
        bounce = await production.get(
            "/auth/patch-id-token?shop=prod-shop.myshopify.com&shopify-reload=%2Fapp"
        )
        assert (
            APP_BRIDGE in bounce.text and "'self'" not in bounce.headers["content-security-policy"]
        )

    @pytest.mark.parametrize(
        "path", ["/static/demo/app-bridge.js", "/static/DEMO/polaris.js", "/demo/static/polaris.js"]
    )
    async def test_production_serves_no_stand_in(
        self, production: httpx.AsyncClient, path: str
    ) -> None:
        assert (await production.get(path)).status_code == 404
        assert (await production.get("/static/admin.js")).status_code == 200


class TestIdTokenEndpoint:
    async def test_a_fresh_token_for_the_demo_shop(
        self, demo: httpx.AsyncClient, demo_shop: Shop, settings: Settings
    ) -> None:
        response = await demo.get("/demo/admin/id-token", params={"shop": DEMO_SHOP})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        token = claims(response.json()["id_token"], settings)
        assert token["dest"] == f"https://{DEMO_SHOP}"

    async def test_the_token_acts_on_the_app_api_for_that_demo_shop_only(
        self, demo: httpx.AsyncClient, demo_shop: Shop, real_shop: Shop
    ) -> None:
        await create_rule(demo_shop, name="Demo rule", category=RuleCategory.SOCIAL)
        await create_rule(real_shop, name="Real rule", category=RuleCategory.SOCIAL)
        token = (await demo.get("/demo/admin/id-token")).json()["id_token"]
        listed = await demo.get(
            "/app/api/earning-rules", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 200, listed.text
        assert [rule["attributes"]["name"] for rule in listed.json()["data"]] == ["Demo rule"]

    async def test_a_demo_token_is_worthless_to_an_app_with_real_credentials(
        self, demo_shop: Shop, settings: Settings, production: httpx.AsyncClient
    ) -> None:
        token = demo_session_token(settings, DEMO_SHOP)
        refused = await production.get(
            "/app/api/earning-rules", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401

    async def test_only_the_demo_app_signs(self, db: str, tmp_path: Path) -> None:
        real = base_settings(db, tmp_path, shopify_api_key="real-key", shopify_api_secret="real")
        with pytest.raises(DemoRefused):
            demo_session_token(real, DEMO_SHOP)
        with pytest.raises(DemoRefused):
            demo_session_token(real.with_overrides(demo=True), DEMO_SHOP)


PATHS = [
    pytest.param("/demo/admin", id="frame"),
    pytest.param("/demo/admin/id-token", id="id-token"),
]


@pytest.mark.parametrize("path", PATHS)
class TestRefusals:
    """Each answers 404 and no token; each test fails if its check is removed."""

    @staticmethod
    def assert_refused(response: httpx.Response) -> None:
        assert response.status_code == 404
        assert "eyJ" not in response.text  # no token, not even in an error

    @pytest.mark.parametrize("shop", [REAL_SHOP, "unknown.myshopify.com", "", "x" * 300])
    async def test_a_shop_the_demo_did_not_seed(
        self, demo: httpx.AsyncClient, demo_shop: Shop, real_shop: Shop, path: str, shop: str
    ) -> None:
        self.assert_refused(await demo.get(path, params={"shop": shop}))

    async def test_with_real_credentials_configured(
        self, db: str, tmp_path: Path, demo_shop: Shop, path: str
    ) -> None:
        real = base_settings(
            db, tmp_path, demo=True, shopify_api_key="real-key", shopify_api_secret="real"
        )
        async with serving(real) as http:
            self.assert_refused(await http.get(path, params={"shop": DEMO_SHOP}))

    @pytest.mark.parametrize("client", [("203.0.113.7", 40000), ("10.0.0.2", 40000)])
    async def test_from_a_client_elsewhere(
        self, settings: Settings, demo_shop: Shop, path: str, client: tuple[str, int]
    ) -> None:
        async with serving(settings, client=client) as http:
            self.assert_refused(await http.get(path, params={"shop": DEMO_SHOP}))

    async def test_through_a_name_that_is_not_loopback(
        self, settings: Settings, demo_shop: Shop, path: str
    ) -> None:
        async with serving(settings, host="rebind.example:8000") as http:
            self.assert_refused(await http.get(path, params={"shop": DEMO_SHOP}))

    async def test_with_the_demo_off(
        self, db: str, tmp_path: Path, demo_shop: Shop, path: str
    ) -> None:
        secret = demo_secret(tmp_path)
        off = base_settings(db, tmp_path, shopify_api_key=DEMO_API_KEY, shopify_api_secret=secret)
        async with serving(off) as http:
            self.assert_refused(await http.get(path, params={"shop": DEMO_SHOP}))


async def test_the_stand_ins_are_refused_to_a_client_elsewhere(settings: Settings) -> None:
    async with serving(settings, client=("203.0.113.7", 40000)) as http:
        assert (await http.get("/demo/static/app-bridge.js")).status_code == 404
    async with serving(settings) as http:
        assert (await http.get("/demo/static/app-bridge.js")).status_code == 200
