"""App Home (`/app`): document verification, the patch-ID-token bounce, the CSP header, and
Shopify-managed installation by token exchange (Shopify mocked with respx)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox
from loyalty.models import Customer, Shop
from loyalty.outbox.queue import InProcessJobQueue
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.factories import create_shop
from tests.tokens import id_token
from web.state import Services

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

SHOP = "home-shop"
DOMAIN = f"{SHOP}.myshopify.com"
TOKEN_URL = f"https://{DOMAIN}/admin/oauth/access_token"
GRAPHQL_URL = f"https://{DOMAIN}/admin/api/2026-10/graphql.json"
BOX = SecretBox("test-secret-key-0123456789abcdef")


async def drain(services: Services) -> None:
    """Run the jobs the request queued (the install's customer backfill) to completion."""
    await services.dispatcher.flush()
    assert isinstance(services.queue, InProcessJobQueue)
    await services.queue.drain()


def exchanged(access: str = "shpat_home") -> dict[str, object]:
    return {
        "access_token": access,
        "scope": "read_customers,write_customers,read_orders,write_app_proxy",
        "expires_in": 3600,
        "refresh_token": "shprt_home",
        "refresh_token_expires_in": 7_776_000,
    }


def app_url(token: str | None, **extra: str) -> str:
    query = {
        "shop": DOMAIN,
        "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvaG9tZS1zaG9w",
        "embedded": "1",
        **extra,
    }
    if token is not None:
        query["id_token"] = token
    return "/app?" + "&".join(f"{k}={v}" for k, v in query.items())


class TestEntry:
    async def test_application_url_forwards_to_app_with_the_query(
        self, client: httpx.AsyncClient
    ) -> None:
        """Shopify loads application_url (/); it forwards to /app, id_token and all."""
        response = await client.get("/?shop=x.myshopify.com&id_token=abc&embedded=1")
        assert response.status_code == 302
        assert response.headers["location"] == "/app?shop=x.myshopify.com&id_token=abc&embedded=1"


class TestDocumentVerification:
    async def test_a_document_without_a_token_bounces_through_the_patch_page(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """No id_token: 302 to /auth/patch-id-token with shopify-reload back to this page."""
        response = await client.get(app_url(None))
        assert response.status_code == 302
        location = urlsplit(response.headers["location"])
        assert location.path == "/auth/patch-id-token"
        assert parse_qs(location.query)["shopify-reload"][0].startswith("/app")
        assert await Shop.filter(domain=DOMAIN).count() == 0

    @pytest.mark.parametrize(
        "token",
        [
            pytest.param(lambda: id_token(SHOP, secret="forged-secret"), id="forged"),
            pytest.param(lambda: id_token(SHOP, issued_at=time.time() - 3600), id="expired"),
            pytest.param(lambda: id_token(SHOP, aud="another-app"), id="wrong-audience"),
            pytest.param(lambda: "not-a-jwt", id="garbage"),
        ],
    )
    async def test_a_bad_token_never_installs_anything(
        self, client: httpx.AsyncClient, db: str, token: object
    ) -> None:
        """Forged, expired, other app's or garbage tokens: no page, no shop, no exchange."""
        with respx.mock(assert_all_called=False) as mock:
            exchange = mock.post(TOKEN_URL)
            response = await client.get(app_url(token()))  # type: ignore[operator]
        assert response.status_code in {302, 401}
        assert "frame-ancestors" not in response.headers.get("content-security-policy", "")
        assert not exchange.called
        assert await Shop.filter(domain=DOMAIN, access_token_enc__isnull=False).count() == 0

    async def test_the_patch_page_loads_app_bridge_for_a_real_shop_only(
        self, client: httpx.AsyncClient
    ) -> None:
        """The bounce page is App Bridge's script; a shop that is not myshopify.com is refused."""
        ok = await client.get(f"/auth/patch-id-token?shop={DOMAIN}&shopify-reload=%2Fapp")
        assert ok.status_code == 200
        assert "app-bridge.js" in ok.text and 'data-api-key="test-client-id"' in ok.text
        bad = await client.get("/auth/patch-id-token?shop=evil.example.com&shopify-reload=%2Fapp")
        assert bad.status_code == 400


class TestInstall:
    async def test_first_load_exchanges_for_an_expiring_offline_token(
        self, client: httpx.AsyncClient, db: str, services: Services
    ) -> None:
        """Managed install: token exchange on first load; tokens stored encrypted; CSP set."""
        shopify = ShopifyAdmin(
            customers=[
                customer_node(
                    501,
                    email="Ada@Example.com",
                    first_name="Ada",
                    last_name="L",
                    tags=["vip"],
                    created_at="2024-01-02T03:04:05Z",
                    updated_at="2024-05-01T00:00:00Z",
                ),
                customer_node(
                    502,
                    first_name="Bo",
                    last_name="M",
                    created_at="2024-01-03T03:04:05Z",
                    updated_at="2024-05-01T00:00:00Z",
                ),
            ]
        )
        with respx.mock(assert_all_called=True) as mock:
            exchange = mock.post(TOKEN_URL).respond(200, json=exchanged())
            graphql = mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            response = await client.get(app_url(id_token(SHOP)))
            await drain(services)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert f"https://{DOMAIN}" in csp and "https://admin.shopify.com" in csp
        assert "frame-ancestors" in csp
        assert '<meta name="shopify-api-key" content="test-client-id">' in response.text
        body = exchange.calls.last.request.content.decode()
        assert '"expiring":' in body.replace(" ", "") and "offline-access-token" in body
        shop = await Shop.get(domain=DOMAIN)
        assert shop.installed_at is not None
        assert BOX.decrypt(shop.access_token_enc or "") == "shpat_home"
        assert "shpat_home" not in (shop.access_token_enc or "")
        assert shop.access_token_expires_at and shop.refresh_token_expires_at
        # The install backfills the shop's existing customers through the Admin API, and
        # records that it did (the admin shows it; the sweep re-runs one left unfinished).
        assert graphql.calls.last.request.headers["X-Shopify-Access-Token"] == "shpat_home"
        backfilled = await Customer.filter(shop=shop).order_by("shopify_customer_id")
        assert [(c.shopify_customer_id, c.email_key) for c in backfilled] == [
            (501, "ada@example.com"),
            (502, None),
        ]
        assert shop.backfill_requested_at is not None
        shop = await Shop.get(id=shop.id)
        assert shop.backfill_completed_at is not None and shop.backfill_customers == 2

    async def test_later_loads_do_not_exchange_again(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """A shop with a usable token renders without calling Shopify."""
        await create_shop(
            domain=DOMAIN,
            installed_at=utcnow(),
            access_token_enc=BOX.encrypt("shpat_ok"),
            refresh_token_enc=BOX.encrypt("shprt_ok"),
        )
        with respx.mock(assert_all_called=False) as mock:
            exchange = mock.post(TOKEN_URL)
            response = await client.get(app_url(id_token(SHOP)))
        assert response.status_code == 200
        assert not exchange.called

    async def test_reinstall_after_uninstall_exchanges_again(
        self, client: httpx.AsyncClient, db: str, services: Services
    ) -> None:
        """An uninstalled shop that opens the app again is installed afresh."""
        await create_shop(domain=DOMAIN, installed_at=utcnow(), uninstalled_at=utcnow())
        with respx.mock(assert_all_called=True) as mock:
            mock.post(TOKEN_URL).respond(200, json=exchanged("shpat_again"))
            mock.post(GRAPHQL_URL).mock(side_effect=ShopifyAdmin())
            response = await client.get(app_url(id_token(SHOP)))
            await drain(services)
        assert response.status_code == 200
        shop = await Shop.get(domain=DOMAIN)
        assert shop.uninstalled_at is None
        assert BOX.decrypt(shop.access_token_enc or "") == "shpat_again"

    async def test_a_refused_exchange_stores_nothing_and_lets_app_bridge_retry(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """invalid_subject_token: nothing stored; the response sends App Bridge for a new token."""
        with respx.mock(assert_all_called=True) as mock:
            mock.post(TOKEN_URL).respond(400, json={"error": "invalid_subject_token"})
            response = await client.get(app_url(id_token(SHOP)))
        assert response.status_code in {302, 401, 502}
        assert await Shop.filter(domain=DOMAIN, access_token_enc__isnull=False).count() == 0
