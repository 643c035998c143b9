"""/proxy referrals: the member's link and the programme's offer (JSON), and the friend's landing
page (HTML at /apps/loyalty/r/CODE), through requests signed exactly as Shopify signs them, on
SQLite and PostgreSQL. The landing calls the core's start_referral; these tests hold what the
friend reads (the code, or one kind sentence that never names the fraud rule) and that a
refused or forged request writes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.models import Referral, ReferralProgramme, ReferralStatus, RuleCategory, Shop
from loyalty.referrals.codes import code_for
from tests.factories import create_customer, create_rule, create_shop
from tests.loyalty.rewards.helpers import reward
from tests.web.proxy.test_proxy import proxy_get, signed_query

DOMAIN = "refer-shop.myshopify.com"
ANN = 8100000001


@pytest.fixture
async def shop(db: str) -> Shop:
    """A shop with referrals on: $5 off for the friend, 300 points for the advocate."""
    shop = await create_shop(domain=DOMAIN, name="Refer Shop")
    five_off = await reward(shop, name="$5 off", value=Decimal("5.00"))
    await create_rule(
        shop, name="Refer a friend", action="referral", category=RuleCategory.REFERRAL, points=300
    )
    await ReferralProgramme.create(shop=shop, enabled=True, friend_reward=five_off)
    await create_customer(shop, shopify_customer_id=ANN, email="ann@example.com")
    return shop


async def ann_code(shop: Shop) -> str:
    ann = await shop.customers.filter(shopify_customer_id=ANN).first()
    assert ann is not None
    code = await code_for(shop_id=shop.id, customer_id=ann.id)
    assert code is not None
    return code


async def land(
    client: httpx.AsyncClient, code: str, form: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    """The friend's landing, as Shopify forwards it: GET, or POST with the form."""
    url = f"/proxy/r/{code}?{signed_query(DOMAIN, None, **kwargs)}"
    if form is None:
        return await client.get(url)
    return await client.post(url, data=form, headers={"X-Forwarded-For": "203.0.113.7"})


class TestTheMembersLink:
    async def test_a_member_gets_their_code_link_and_the_offer(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await proxy_get(client, "/referral", signed_query(DOMAIN, ANN))
        assert response.status_code == 200
        offer = response.json()["data"]["attributes"]
        code = await ann_code(shop)
        assert offer["code"] == code
        assert offer["url"] == f"https://{DOMAIN}/apps/loyalty/r/{code}"
        assert offer["enabled"] is True and offer["signed_in"] is True
        assert offer["friend_reward"]["kind"] == "fixed_amount"
        assert Decimal(offer["friend_reward"]["value"]) == Decimal("5.00")
        assert offer["advocate_points"] == 300

    async def test_a_visitor_sees_the_offer_and_no_code(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        offer = (await proxy_get(client, "/referral", signed_query(DOMAIN, None))).json()
        assert offer["data"]["attributes"]["code"] is None
        assert offer["data"]["attributes"]["friend_reward"]["name"] == "$5 off"

    @pytest.mark.parametrize("off", ["referrals", "the whole programme"])
    async def test_with_the_programme_off_nobody_gets_a_link(
        self, client: httpx.AsyncClient, shop: Shop, off: str
    ) -> None:
        if off == "referrals":
            await ReferralProgramme.filter(shop=shop).update(enabled=False)
        else:
            await Shop.filter(id=shop.id).update(programme_enabled=False)
        offer = (await proxy_get(client, "/referral", signed_query(DOMAIN, ANN))).json()
        assert offer["data"]["attributes"]["enabled"] is False
        assert offer["data"]["attributes"]["url"] is None

    async def test_a_forged_request_is_refused(self, client: httpx.AsyncClient, shop: Shop) -> None:
        response = await proxy_get(client, "/referral", signed_query(DOMAIN, ANN, secret="x"))
        assert response.status_code == 401


class TestTheFriendsLanding:
    async def test_the_friend_sees_the_offer_and_the_email_form(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await land(client, await ann_code(shop))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "A friend sent you 5.00 USD off" in response.text
        assert 'name="email"' in response.text

    async def test_giving_an_email_shows_the_friends_code(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await land(client, (await ann_code(shop)).lower(), {"email": "bo@example.com"})
        assert response.status_code == 200
        referral = await Referral.get(shop=shop)
        assert referral.status == ReferralStatus.PENDING
        assert referral.ip == "203.0.113.7"
        assert referral.friend_code and referral.friend_code in response.text
        assert "Your gift is ready" in response.text

    async def test_giving_the_email_again_shows_the_same_code_once_recorded(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The same browser (its device id) coming back is shown its code again."""
        code = await ann_code(shop)
        first = await land(client, code, {"email": "bo@example.com", "device": "dev-bo-1"})
        again = await land(client, code, {"email": "Bo@Example.com", "device": "dev-bo-1"})
        referral = await Referral.get(shop=shop)
        assert referral.friend_code in first.text and referral.friend_code in again.text
        assert await Referral.filter(shop=shop).count() == 1

    @pytest.mark.parametrize("device", [None, "dev-someone-else"])
    async def test_another_browser_typing_the_friends_email_never_sees_the_code(
        self, client: httpx.AsyncClient, shop: Shop, device: str | None
    ) -> None:
        """Knowing a referred friend's email is not enough to read their single-use code."""
        code = await ann_code(shop)
        await land(client, code, {"email": "bo@example.com", "device": "dev-bo-1"})
        form = {"email": "bo@example.com"} | ({"device": device} if device else {})
        again = await land(client, code, form)
        referral = await Referral.get(shop=shop)
        assert again.status_code == 200
        assert referral.friend_code not in again.text
        assert "already has its gift" in again.text
        assert await Referral.filter(shop=shop).count() == 1

    async def test_a_blocked_referral_is_refused_kindly_without_the_reason(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The advocate's own email (in other case): blocked, recorded with its reason for the
        merchant; the friend reads one sentence that names no rule, and gets no code."""
        response = await land(client, await ann_code(shop), {"email": "ANN@Example.com"})
        referral = await Referral.get(shop=shop)
        assert referral.status == ReferralStatus.BLOCKED
        assert referral.block_reason in {"same_email", "same_customer"}
        assert "give you a code through this link" in response.text
        assert "same" not in response.text.lower()
        assert "FRIEND-" not in response.text

    async def test_a_bad_email_is_said_under_the_field_and_nothing_is_written(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await land(client, await ann_code(shop), {"email": "not an email"})
        assert response.status_code == 422
        assert "Enter an email address" in response.text
        assert 'value="not an email"' in response.text
        assert await Referral.filter(shop=shop).count() == 0

    async def test_what_the_friend_typed_is_escaped(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await land(client, await ann_code(shop), {"email": '"><script>x()</script>'})
        assert "<script>x()" not in response.text
        assert "&lt;script&gt;" in response.text

    @pytest.mark.parametrize("code", ["NOSUCH23", "a" * 40, "%E2%80%AE"])
    async def test_an_unknown_code_is_a_friendly_404(
        self, client: httpx.AsyncClient, shop: Shop, code: str
    ) -> None:
        response = await land(client, code, {"email": "bo@example.com"})
        assert response.status_code == 404
        assert "match any of our customers" in response.text
        assert await Referral.filter(shop=shop).count() == 0

    async def test_with_the_programme_off_the_friend_is_told_kindly(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        await ReferralProgramme.filter(shop=shop).update(enabled=False)
        response = await land(client, await ann_code(shop), {"email": "bo@example.com"})
        assert "This gift has ended" in response.text
        assert await Referral.filter(shop=shop).count() == 0

    async def test_a_forged_or_expired_signature_writes_nothing(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        code = await ann_code(shop)
        forged = await land(client, code, {"email": "bo@example.com"}, secret="wrong")
        expired = await land(client, code, {"email": "bo@example.com"}, timestamp=1_000_000)
        assert (forged.status_code, expired.status_code) == (401, 401)
        assert await Referral.filter(shop=shop).count() == 0

    async def test_another_shops_code_is_not_this_shops(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        other = await create_shop(domain="other-refer.myshopify.com")
        stranger = await create_customer(other)
        code = await code_for(shop_id=other.id, customer_id=stranger.id)
        assert code is not None
        response = await land(client, code, {"email": "bo@example.com"})
        assert response.status_code == 404
