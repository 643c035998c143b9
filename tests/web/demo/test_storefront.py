"""/demo/storefront: the extension's Liquid for a demo customer or a visitor, and the local app
proxy that signs the widget's calls as Shopify would and reaches the app's real /proxy (with its
signature check) in-process. Every refusal here fails if its check is removed."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from asgi_lifespan import LifespanManager
from shopify_app import ShopifyApp

from loyalty.models import Customer, EarningHistoryEntry, Shop
from loyalty.referrals.codes import code_for
from loyalty.settings import Settings
from loyalty.shops.demo import DEMO_SHOP, DemoShop, seed_demo
from tests.conftest import RunningApp
from tests.factories import create_customer, create_shop
from tests.local_demo import ANN, SAM, local_demo_settings
from web.admin.templating import static_url
from web.app import create_app
from web.demo.app_proxy_signer import signed_params
from web.demo.liquid import ASSETS

INSTAGRAM = "rule_demo_instagram"  # social, 100 points, approved at once
LOCAL = "http://127.0.0.1:8000"
SIGNING_SECRET = "demo-secret"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return local_demo_settings(settings, tmp_path)


@pytest.fixture
async def demo(db: str) -> DemoShop:
    return await seed_demo()


@pytest.fixture
async def real_shop(db: str) -> Shop:
    """A shop the demo did not seed (one installed for real), with a customer of its own."""
    shop = await create_shop(domain="real-shop.myshopify.com", name="Real shop")
    await create_customer(shop, shopify_customer_id=555, points_balance=40, lifetime_points=40)
    return shop


@pytest.fixture
async def local(app: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on this machine: loopback client, loopback Host."""
    transport = httpx.ASGITransport(app=app.asgi, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=LOCAL) as http:
        yield http


def proxy_url(who: int | str, tail: str, shop: str = DEMO_SHOP) -> str:
    return f"/demo/storefront/{shop}/{who}/apps/loyalty/{tail}"


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]  # type: ignore[no-any-return]


class TestSigner:
    """web.demo.app_proxy_signer signs as Shopify does: shopify_app (what /proxy verifies with)
    accepts it, repeated keys included, and refuses it once anything signed changes."""

    def verified(self, params: list[tuple[str, str]], secret: str = SIGNING_SECRET) -> Any:
        app = ShopifyApp(client_id="demo", client_secret=secret)
        url = f"https://127.0.0.1/proxy/customer?{urlencode(params)}"
        return app.verify_app_proxy_req({"method": "GET", "headers": {}, "url": url, "body": ""})

    def test_the_signature_verifies_with_repeated_keys(self) -> None:
        browser = [("tag", "a"), ("tag", "b"), ("logged_in_customer_id", str(SAM))]
        params = signed_params(browser, shop=DEMO_SHOP, customer_id=ANN, secret=SIGNING_SECRET)
        result = self.verified(params)
        assert result.ok
        assert (result.shop, result.logged_in_customer_id) == ("demo", str(ANN))  # the subdomain
        assert [p for p in params if p[0] == "tag"] == [("tag", "a"), ("tag", "b")]

    def test_a_changed_parameter_or_secret_does_not_verify(self) -> None:
        params = signed_params([], shop=DEMO_SHOP, customer_id=None, secret=SIGNING_SECRET)
        assert self.verified(params).ok
        assert not self.verified(params, secret="other-secret").ok
        forged = [
            ("logged_in_customer_id", str(ANN)) if k == "logged_in_customer_id" else (k, v)
            for k, v in params
        ]
        assert not self.verified(forged).ok


class TestPage:
    async def test_a_customer_sees_the_blocks_with_the_app_metafields(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        """The extension's own Liquid, with the balance from the metafields the app writes, the
        widget pointed at the local proxy for this customer, the assets under the demo mount."""
        response = await local.get("/demo/storefront", params={"shop": DEMO_SHOP, "as": ANN})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        page = response.text
        assert 'class="lw lw--section lw--member"' in page  # points-balance, signed in
        assert 'class="lw lw--embed lw--right lw--member"' in page  # the app embed
        assert 'data-lw-field="points_balance">120<' in page
        proxy = f"/demo/storefront/{DEMO_SHOP}/{ANN}/apps/loyalty"
        assert page.count(f'data-lw-proxy="{proxy}"') == 4  # the three blocks and the embed
        assert page.count("data-lw-rewards") == 2  # the Rewards block and the panel's section
        assert "data-lw-apply" not in page  # no cart here: no "Apply to cart"
        assert '<script src="/demo/storefront/assets/loyalty-widget.js" defer>' in page
        assert f'<option value="{ANN}" selected>Ann Bronze · ann.bronze@example.com' in page
        assert '<option value="visitor">' in page

    async def test_a_members_share_panel_renders_from_the_referral_metafield(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        """The link from the app's `referral` metafield with the page (not hidden), each share
        link its address with the link URL-encoded; the demo bar offers to arrive as the
        customer's friend."""
        response = await local.get("/demo/storefront", params={"shop": DEMO_SHOP, "as": ANN})
        page = html.unescape(response.text)
        ann = await Customer.get(shop=demo.shop, shopify_customer_id=ANN)
        code = await code_for(shop_id=demo.shop.id, customer_id=ann.id)
        link = f"https://{DEMO_SHOP}/apps/loyalty/r/{code}"
        assert f'value="{link}" data-lw-ref-url' in page
        section = page.split("data-lw-referral", 1)[1].split(">", 1)[0]
        assert "hidden" not in section
        assert f"https://www.facebook.com/sharer/sharer.php?u={quote(link, safe='')}" in page
        assert f"%20{quote(link, safe='')}" in page  # after the text, in email and WhatsApp
        invite = f"/demo/storefront?shop={DEMO_SHOP}&ref={code}&as=visitor"
        assert f'href="{invite}" data-demo-invite' in page

    async def test_a_visitor_sees_the_sign_in_prompt_pointing_at_the_chooser(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        response = await local.get("/demo/storefront")  # the demo shop, as a visitor
        assert response.status_code == 200
        page = response.text
        assert "lw--member" not in page
        assert 'class="lw-visitor"' in page
        chooser = html.escape(f"/demo/storefront?shop={DEMO_SHOP}#choose-customer")
        assert f'href="{chooser}" data-lw-sign-in' in page
        proxy = f"/demo/storefront/{DEMO_SHOP}/visitor/apps/loyalty"
        assert f'data-lw-proxy="{proxy}"' in page
        assert '<option value="visitor" selected>' in page

    async def test_the_extension_assets_are_served_under_the_demo(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        for name in ("loyalty-widget.js", "loyalty-rewards.js", "loyalty-widget.css"):
            response = await local.get(f"/demo/storefront/assets/{name}")
            assert response.status_code == 200
            assert response.content == (ASSETS / name).read_bytes()

    async def test_the_assets_and_the_page_are_compressed_as_shopify_serves_them(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        """What bench/storefront's Lighthouse counts is what a shopper would download."""
        for path in ("/demo/storefront", "/demo/storefront/assets/loyalty-widget.css"):
            response = await local.get(path, headers={"Accept-Encoding": "gzip"})
            assert response.status_code == 200
            assert response.headers["content-encoding"] == "gzip"

    async def test_the_product_page_carries_the_embed_and_no_block(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        response = await local.get("/demo/storefront", params={"as": ANN, "page": "product"})
        assert response.status_code == 200
        page = response.text
        assert "<h1>Wool scarf</h1>" in page
        assert page.count("data-lw-root") == 1  # the embed only: app blocks go on other pages
        assert '<script src="/demo/storefront/assets/loyalty-widget.js" defer>' in page
        picture = static_url("demo/scarf.svg")  # from this host: nothing is fetched elsewhere
        assert f'src="{html.escape(picture)}"' in page
        image = await local.get(picture)
        assert image.status_code == 200
        assert image.headers["content-type"].startswith("image/svg+xml")

    @pytest.mark.parametrize("page_name", ["home", "product"])
    async def test_the_page_without_the_app_has_nothing_of_the_extension(
        self, local: httpx.AsyncClient, demo: DemoShop, page_name: str
    ) -> None:
        """The page before the merchant turned the app on (bench/storefront's baseline)."""
        params = {"as": ANN, "page": page_name, "app": "none", "bar": "off"}
        response = await local.get("/demo/storefront", params=params)
        assert response.status_code == 200
        page = response.text
        assert "data-lw-root" not in page
        assert "/demo/storefront/assets/" not in page
        assert "demo-bar" not in page.split("</style>")[1]  # the bar's markup, not its CSS

    async def test_the_home_page_with_the_embed_only(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        response = await local.get("/demo/storefront", params={"as": ANN, "app": "embed"})
        assert response.status_code == 200
        assert response.text.count("data-lw-root") == 1
        assert 'class="lw lw--embed lw--right lw--member"' in response.text

    @pytest.mark.parametrize(
        ("name", "value"), [("page", "cart"), ("app", "some"), ("bar", "no"), ("page", "")]
    )
    async def test_an_unknown_variant_is_a_400(
        self, local: httpx.AsyncClient, demo: DemoShop, name: str, value: str
    ) -> None:
        response = await local.get("/demo/storefront", params={name: value})
        assert response.status_code == 400
        assert error_code(response) == "invalid_parameter"
        assert response.json()["errors"][0]["source"] == {"parameter": name}

    @pytest.mark.parametrize(
        ("who", "status", "code"),
        [("ann", 400, "invalid_parameter"), ("", 400, "invalid_parameter")],
    )
    async def test_a_malformed_customer_is_a_400(
        self, local: httpx.AsyncClient, demo: DemoShop, who: str, status: int, code: str
    ) -> None:
        response = await local.get("/demo/storefront", params={"as": who})
        assert response.status_code == status
        assert error_code(response) == code


class TestProxy:
    async def test_a_customer_claims_and_the_balance_moves(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        """The widget's three calls, signed for the chosen customer, answered by the app."""
        before = await local.get(proxy_url(ANN, "customer"), headers={"Accept": "application/json"})
        assert before.status_code == 200
        assert before.json()["data"]["attributes"]["points_balance"] == 120
        rules = await local.get(proxy_url(ANN, "earning-rules"))
        assert INSTAGRAM in [r["id"] for r in rules.json()["data"]]
        claimed = await local.post(proxy_url(ANN, f"earning-rules/{INSTAGRAM}/award"))
        assert claimed.status_code == 201
        assert claimed.headers["content-type"].startswith("application/")
        after = await local.get(proxy_url(ANN, "customer"))
        assert after.json()["data"]["attributes"]["points_balance"] == 220
        again = await local.post(proxy_url(ANN, f"earning-rules/{INSTAGRAM}/award"))
        assert again.status_code == 409
        ann = await Customer.get(shop=demo.shop, shopify_customer_id=ANN)
        assert ann.points_balance == 220

    async def test_a_visitor_is_signed_for_as_a_visitor(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        me = await local.get(proxy_url("visitor", "customer"))
        assert me.status_code == 200
        assert me.json()["data"]["attributes"]["signed_in"] is False
        claim = await local.post(proxy_url("visitor", f"earning-rules/{INSTAGRAM}/award"))
        assert claim.status_code == 401
        assert error_code(claim) == "not_logged_in"

    async def test_the_browser_cannot_name_the_customer_or_the_shop_in_its_query(
        self, local: httpx.AsyncClient, demo: DemoShop, real_shop: Shop
    ) -> None:
        """Shopify's parameters in the browser's query are dropped, never signed."""
        forged = {
            "logged_in_customer_id": str(SAM),
            "shop": real_shop.domain,
            "path_prefix": "/apps/other",
            "timestamp": "1",
            "signature": "0" * 64,
        }
        as_visitor = await local.get(proxy_url("visitor", "customer"), params=forged)
        assert as_visitor.status_code == 200
        assert as_visitor.json()["data"]["attributes"]["signed_in"] is False
        claim = await local.post(proxy_url(ANN, f"earning-rules/{INSTAGRAM}/award"), params=forged)
        assert claim.status_code == 201
        awarded = await EarningHistoryEntry.filter(rule__public_id=INSTAGRAM).prefetch_related(
            "customer", "shop"
        )
        assert [(e.shop.domain, e.customer.shopify_customer_id) for e in awarded] == [
            (DEMO_SHOP, ANN)
        ]

    async def test_the_signed_request_is_never_logged(
        self, local: httpx.AsyncClient, demo: DemoShop, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The signature is a credential for 90 seconds: no log line carries it."""
        caplog.set_level(logging.DEBUG)
        response = await local.get(proxy_url(ANN, "customer"))
        assert response.status_code == 200
        assert caplog.records, "nothing was logged: the check below would prove nothing"
        assert not [r for r in caplog.records if "signature=" in r.getMessage()]


class TestRefusals:
    @pytest.mark.parametrize("domain", ["real-shop.myshopify.com", "nowhere.myshopify.com"])
    async def test_a_shop_the_demo_did_not_seed_is_a_404(
        self, local: httpx.AsyncClient, demo: DemoShop, real_shop: Shop, domain: str
    ) -> None:
        """The same answer whether the shop exists or not; nothing is signed for it."""
        page = await local.get("/demo/storefront", params={"shop": domain, "as": "visitor"})
        assert (page.status_code, error_code(page)) == (404, "shop_not_found")
        for who in ("visitor", 555):
            proxied = await local.get(proxy_url(who, "customer", shop=domain))
            assert (proxied.status_code, error_code(proxied)) == (404, "shop_not_found")
        claim = await local.post(proxy_url(555, f"earning-rules/{INSTAGRAM}/award", shop=domain))
        assert claim.status_code == 404
        assert await Customer.filter(shop=real_shop).count() == 1

    async def test_a_customer_of_another_shop_is_never_signed_for(
        self, local: httpx.AsyncClient, demo: DemoShop, real_shop: Shop
    ) -> None:
        """A Shopify id only another shop has (real or demo) is refused before anything is
        forwarded: the app's proxy would enrol it in the demo shop."""
        other_demo = await create_shop(domain="second-demo.myshopify.com", is_demo=True)
        await create_customer(other_demo, shopify_customer_id=8000000001)
        for who in (555, 8000000001):
            page = await local.get("/demo/storefront", params={"as": who})
            assert (page.status_code, error_code(page)) == (404, "customer_not_found")
            for tail in ("customer", "earning-rules"):
                proxied = await local.get(proxy_url(who, tail))
                assert (proxied.status_code, error_code(proxied)) == (404, "customer_not_found")
            claim = await local.post(proxy_url(who, f"earning-rules/{INSTAGRAM}/award"))
            assert (claim.status_code, error_code(claim)) == (404, "customer_not_found")
        ids = await Customer.filter(shop=demo.shop).values_list("shopify_customer_id", flat=True)
        assert 555 not in ids and 8000000001 not in ids
        assert await EarningHistoryEntry.filter(shop=demo.shop).count() == 0

    async def test_the_proxy_reaches_nothing_but_the_app_proxy(
        self, local: httpx.AsyncClient, demo: DemoShop
    ) -> None:
        """A dot segment in the tail (encoded, so it reaches the route) cannot climb out of
        /proxy into another mount."""
        response = await local.get(proxy_url(ANN, "%2e%2e/%2e%2e/app/api/shop"))
        assert (response.status_code, error_code(response)) == (404, "not_found")
        assert "data-lw" not in response.text


async def demo_get(settings: Settings, path: str, **transport: Any) -> httpx.Response:
    """GET `path` from an app with these settings, from the client and Host given."""
    application = create_app(settings, manage_db=False, job_defer=0)
    base_url = transport.pop("base_url", LOCAL)
    async with LifespanManager(application) as manager:
        asgi = httpx.ASGITransport(app=manager.app, **transport)
        async with httpx.AsyncClient(transport=asgi, base_url=base_url) as http:
            return await http.get(path)


PATHS = [
    "/demo/storefront",
    proxy_url(ANN, "customer"),
    "/demo/storefront/assets/loyalty-widget.js",
]


class TestGuard:
    """The demo storefront exists only for the demo app, on loopback (web.demo.guard)."""

    @pytest.mark.parametrize("path", PATHS)
    async def test_served_to_this_machine(
        self, settings: Settings, demo: DemoShop, path: str
    ) -> None:
        response = await demo_get(settings, path, client=("127.0.0.1", 50000))
        assert response.status_code == 200  # the refusals below are refusals, not a broken path

    @pytest.mark.parametrize("path", PATHS)
    async def test_not_found_with_the_demo_off(
        self, settings: Settings, demo: DemoShop, path: str
    ) -> None:
        off = settings.with_overrides(demo=False)
        assert (await demo_get(off, path, client=("127.0.0.1", 50000))).status_code == 404

    @pytest.mark.parametrize("path", PATHS)
    async def test_not_found_with_real_shopify_credentials(
        self, settings: Settings, demo: DemoShop, path: str
    ) -> None:
        """Even with the demo flag set, a real app's credentials turn it off (the demo would
        otherwise sign proxy requests with a real app's secret)."""
        real = settings.with_overrides(shopify_api_key="real-app", shopify_api_secret="real-secret")
        assert (await demo_get(real, path, client=("127.0.0.1", 50000))).status_code == 404

    @pytest.mark.parametrize("path", PATHS)
    async def test_not_found_from_another_machine(
        self, settings: Settings, demo: DemoShop, path: str
    ) -> None:
        assert (await demo_get(settings, path, client=("203.0.113.9", 50000))).status_code == 404

    @pytest.mark.parametrize("path", PATHS)
    async def test_not_found_under_another_host_name(
        self, settings: Settings, demo: DemoShop, path: str
    ) -> None:
        """A page elsewhere cannot reach it through a name that resolves to 127.0.0.1."""
        response = await demo_get(
            settings, path, client=("127.0.0.1", 50000), base_url="http://rebound.example:8000"
        )
        assert response.status_code == 404
