"""`/app/api/integrations/{platform}`: save, read, enable/disable, test and forget a marketing
integration. The key is stored encrypted and never sent back (only a hint). SQLite and
PostgreSQL (through the `client` fixture)."""

from __future__ import annotations

import httpx
import pytest
import respx

from loyalty.crypto import SecretBox
from loyalty.models import Integration, Platform, Shop
from tests.factories import create_shop
from tests.tokens import bearer
from tests.web.admin_client import RETRY_HEADER, Admin

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

KLAVIYO_KEY = "pk_live_0123456789abcdefWXYZ"
BOX = SecretBox("test-secret-key-0123456789abcdef")


async def save(admin: Admin, platform: str, body: object) -> httpx.Response:
    return await admin.request("PUT", f"/integrations/{platform}", body)


class TestSaveAndRead:
    async def test_the_key_is_stored_encrypted_and_never_echoed(
        self, admin: Admin, shop: Shop
    ) -> None:
        response = await save(admin, "klaviyo", {"api_key": KLAVIYO_KEY})
        assert response.status_code == 200, response.text
        attributes = response.json()["data"]["attributes"]
        assert attributes["connected"] is True and attributes["enabled"] is True
        assert attributes["credential_hint"] == "pk_…WXYZ"
        assert KLAVIYO_KEY not in response.text

        row = await Integration.get(shop_id=shop.id, platform=Platform.KLAVIYO)
        assert row.credentials_enc and KLAVIYO_KEY not in row.credentials_enc
        assert BOX.decrypt(row.credentials_enc) == KLAVIYO_KEY

        read = await admin.get("/integrations/klaviyo")
        assert read.status_code == 200 and KLAVIYO_KEY not in read.text
        assert read.json()["data"]["attributes"]["credential_hint"] == "pk_…WXYZ"
        listed = await admin.get("/integrations")
        assert [d["id"] for d in listed.json()["data"]] == ["klaviyo", "omnisend", "postscript"]
        assert KLAVIYO_KEY not in listed.text

    async def test_an_unsaved_platform_reads_as_not_connected(self, admin: Admin) -> None:
        response = await admin.get("/integrations/omnisend")
        assert response.status_code == 200
        attributes = response.json()["data"]["attributes"]
        assert (attributes["connected"], attributes["enabled"]) == (False, False)

    async def test_a_public_key_is_refused_with_a_stable_code_and_nothing_saved(
        self, admin: Admin, shop: Shop
    ) -> None:
        response = await save(admin, "postscript", {"api_key": "pk_public_123456"})
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["code"] == "invalid_api_key"
        assert await Integration.filter(shop_id=shop.id).count() == 0

    async def test_a_body_without_a_key_is_422(self, admin: Admin, shop: Shop) -> None:
        response = await save(admin, "klaviyo", {"enabled": True})
        assert response.status_code == 422
        assert await Integration.filter(shop_id=shop.id).count() == 0

    async def test_an_unknown_platform_is_404(self, admin: Admin) -> None:
        response = await admin.get("/integrations/mailchimp")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "integration_not_found"

    async def test_another_shops_integration_is_invisible(self, admin: Admin, shop: Shop) -> None:
        other = await create_shop(domain="other.myshopify.com")
        await Integration.create(
            shop=other, platform=Platform.KLAVIYO, enabled=True, credentials_enc=BOX.encrypt("x")
        )
        response = await admin.get("/integrations/klaviyo")
        assert response.json()["data"]["attributes"]["connected"] is False


# Every integration endpoint, with a body that would succeed given a valid token.
ENDPOINTS = [
    ("GET", "/integrations", None),
    ("GET", "/integrations/klaviyo", None),
    ("PUT", "/integrations/klaviyo", {"api_key": KLAVIYO_KEY}),
    ("POST", "/integrations/klaviyo/test", None),
    ("POST", "/integrations/klaviyo/enable", None),
    ("POST", "/integrations/klaviyo/disable", None),
    ("DELETE", "/integrations/klaviyo", None),
]


class TestAuthentication:
    @pytest.fixture
    async def connected(self, shop: Shop) -> Integration:
        return await Integration.create(
            shop=shop, platform=Platform.KLAVIYO, enabled=False, credentials_enc=BOX.encrypt("k")
        )

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    @pytest.mark.parametrize("credential", ["none", "forged", "expired"])
    @respx.mock(assert_all_called=False)
    async def test_an_unverified_token_is_401_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        connected: Integration,
        method: str,
        path: str,
        body: object,
        credential: str,
    ) -> None:
        """No token, a token signed with another secret, or one past its lifetime: 401 before
        the body is read; the saved integration is untouched and no platform is called."""
        headers = {
            "none": {},
            "forged": bearer(secret="not-the-client-secret"),
            "expired": bearer(issued_at=1_700_000_000),
        }[credential]
        outside = respx.route().mock(return_value=httpx.Response(200, json={}))
        response = await client.request(method, f"/app/api{path}", json=body, headers=headers)
        assert response.status_code == 401, response.text
        if credential != "none":
            assert response.headers[RETRY_HEADER] == "1"
        assert not outside.called
        row = await Integration.get(id=connected.id)
        assert (row.enabled, BOX.decrypt(row.credentials_enc)) == (False, "k")


class TestEnableDisableForget:
    async def test_enable_needs_a_key_first(self, admin: Admin) -> None:
        response = await admin.post("/integrations/omnisend/enable")
        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "not_connected"

    async def test_disable_then_enable_then_delete(self, admin: Admin, shop: Shop) -> None:
        await save(admin, "klaviyo", {"api_key": KLAVIYO_KEY})
        off = await admin.post("/integrations/klaviyo/disable")
        assert off.status_code == 200 and off.json()["data"]["attributes"]["enabled"] is False
        on = await admin.post("/integrations/klaviyo/enable")
        assert on.status_code == 200 and on.json()["data"]["attributes"]["enabled"] is True

        gone = await admin.delete("/integrations/klaviyo")
        assert gone.status_code == 204
        assert await Integration.filter(shop_id=shop.id).count() == 0


class TestConnectionTest:
    async def test_a_working_key_is_ok_and_recorded(self, admin: Admin, shop: Shop) -> None:
        await save(admin, "klaviyo", {"api_key": KLAVIYO_KEY})
        with respx.mock(assert_all_called=True) as mock:
            mock.get(
                "https://a.klaviyo.com/api/profiles",
                headers={"Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}"},
            ).mock(return_value=httpx.Response(200, json={"data": []}))
            response = await admin.post("/integrations/klaviyo/test")
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["ok"] is True
        row = await Integration.get(shop_id=shop.id, platform=Platform.KLAVIYO)
        assert row.last_success_at is not None

    async def test_a_refused_key_is_ok_false_with_why(self, admin: Admin, shop: Shop) -> None:
        await save(admin, "klaviyo", {"api_key": KLAVIYO_KEY})
        with respx.mock(assert_all_called=True) as mock:
            mock.get("https://a.klaviyo.com/api/profiles").mock(
                return_value=httpx.Response(
                    401, json={"errors": [{"detail": "Invalid private key."}]}
                )
            )
            response = await admin.post("/integrations/klaviyo/test")
        assert response.status_code == 200
        attributes = response.json()["data"]["attributes"]
        assert attributes["ok"] is False and "Invalid private key" in attributes["detail"]
        status = (await admin.get("/integrations/klaviyo")).json()["data"]["attributes"]
        assert "Invalid private key" in (status["last_error"] or "")
        assert status["last_error_at"] is not None
