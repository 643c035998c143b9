"""The Referrals page, rendered as Shopify opens it (a verified document): the programme's
settings as saved, the referrals filtered by status with the reason a blocked one was stopped
and **Approve** on it, another shop's referrals never shown; and the Referrals way to earn
saying exactly when it awards. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.models import (
    Customer,
    ReferralProgramme,
    RewardKind,
    RuleCategory,
    Shop,
)
from loyalty.referrals.codes import code_for
from loyalty.referrals.start import start_referral
from tests.factories import create_customer, create_rule, create_shop
from tests.loyalty.rewards.helpers import reward
from tests.web.admin.test_admin_pages import installed, text_of, url
from web.admin.pages import CATEGORIES

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture
async def shop(db: str) -> Shop:
    shop = await installed()
    five_off = await reward(shop, name="$5 off", value=Decimal("5.00"))
    await reward(
        shop, name="Credit", kind=RewardKind.STORE_CREDIT, value=Decimal("5.00"), points_cost=50
    )
    await create_rule(
        shop, name="Refer a friend", action="referral", category=RuleCategory.REFERRAL, points=300
    )
    await ReferralProgramme.create(shop=shop, enabled=True, friend_reward=five_off)
    return shop


async def referred(shop: Shop, advocate: Customer, email: str) -> None:
    code = await code_for(shop_id=shop.id, customer_id=advocate.id)
    assert code is not None
    await start_referral(
        shop=shop, code=code, friend_email=email, ip="203.0.113.9", device_id=None, now=utcnow()
    )


class TestReferralsPage:
    async def test_the_programme_shows_as_saved_with_every_fraud_rule_on(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await client.get(url("/app/referrals"))
        assert response.status_code == 200
        text = text_of(response.text)
        assert "Advocates earn 300 points" in text
        assert 'href="/app/referrals"' in response.text  # the nav entry
        assert response.text.count("data-check=") == 8
        assert 'data-check="same_email" checked' in response.text
        friend = response.text.split('name="friend_reward_id"')[1].split("</s-select>")[0]
        assert "$5 off" in friend and "Credit" not in friend  # no store credit for a friend
        assert "No referrals yet" in text

    async def test_lists_referrals_with_the_blocked_reason_and_approve_on_blocked_only(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        ann = await create_customer(shop, email="ann@example.com")
        await referred(shop, ann, "bo@example.com")
        await referred(shop, ann, "ANN@example.com")  # herself: blocked
        text = text_of((await client.get(url("/app/referrals"))).text)
        assert "bo@example.com" in text and "ANN@example.com" in text
        assert "Pending" in text and "Blocked" in text
        page = (await client.get(url("/app/referrals"))).text
        assert page.count('data-api="POST /referrals/') == 1
        assert "Same email as the advocate" in page or "The advocate&#39;s own account" in page

        blocked = (await client.get(url("/app/referrals", status="blocked"))).text
        assert "ANN@example.com" in blocked and "bo@example.com" not in blocked

    async def test_another_shops_referrals_are_not_listed(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        other = await create_shop(domain="elsewhere-ref.myshopify.com")
        gift = await reward(other, name="Other gift")
        await ReferralProgramme.create(shop=other, enabled=True, friend_reward=gift)
        stranger = await create_customer(other)
        await referred(other, stranger, "someone@example.com")
        page = (await client.get(url("/app/referrals"))).text
        assert "someone@example.com" not in page

    async def test_an_unknown_status_filter_lists_everything(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        ann = await create_customer(shop, email="ann@example.com")
        await referred(shop, ann, "bo@example.com")
        response = await client.get(url("/app/referrals", status="<nope>"))
        assert response.status_code == 200
        assert "bo@example.com" in response.text


class TestReferralWayToEarn:
    def test_the_category_says_exactly_when_it_awards(self) -> None:
        words = CATEGORIES[RuleCategory.REFERRAL]["help"]
        assert "first paid order" in words and "Taken back" in words
        assert "Not awarded yet" not in words

    async def test_the_rule_form_sends_the_merchant_to_the_referrals_page(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        rule = await create_rule(
            shop, name="Refer more", action="referral", category=RuleCategory.REFERRAL
        )
        page = (await client.get(url(f"/app/rules/{rule.public_id}"))).text
        assert 'href="/app/referrals' in page
        assert 'name="approval_time_days"' in page
