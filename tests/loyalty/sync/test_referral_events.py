"""The referral events on Klaviyo, Omnisend and Postscript through the customer syncs, judged by
each vendor's published contract (standins.partners): "referral sent" when a friend starts a
referral and "referral completed" when the advocate is paid, each once, on the advocate's
profile, which also carries the referral code and link; the friend's email is never sent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import respx

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import Customer, Platform, RuleCategory, Shop
from loyalty.referrals.codes import code_for
from loyalty.referrals.conversion import ReferralOrder, on_order_paid
from loyalty.referrals.programme import update_programme
from loyalty.referrals.start import start_referral
from loyalty.settings import Settings
from loyalty.sync.deps import JobDeps
from standins.partners import partner_mock
from tests.factories import create_customer, create_rule
from tests.loyalty.partners.fakes import KLAVIYO_PROFILE
from tests.loyalty.rewards.helpers import reward
from tests.loyalty.sync.harness import connected_shop, enable, run_job

KLAVIYO = "https://a.klaviyo.com"
OMNISEND = "https://api.omnisend.com/api"
POSTSCRIPT = "https://api.postscript.io"
FRIEND = "fred.friend@example.com"


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


async def referred_and_completed(settings: Settings, platform: Platform) -> tuple[Shop, Customer]:
    """A shop syncing to `platform` whose advocate's friend started a referral and placed
    their first paid order: the advocate earned 500 points."""
    shop = await connected_shop(settings)
    await enable(settings, shop, platform)
    friend_reward = await reward(shop, name="Friend $5 off")
    await update_programme(
        shop_id=shop.id, changes={"enabled": True, "friend_reward_id": friend_reward.public_id}
    )
    await create_rule(shop, category=RuleCategory.REFERRAL, action="referral", points=500)
    ann = await create_customer(shop, email="ann@example.com")
    code = await code_for(shop_id=shop.id, customer_id=ann.id)
    assert code is not None
    await start_referral(
        shop=shop, code=code, friend_email=FRIEND, ip=None, device_id=None, now=utcnow()
    )
    order = ReferralOrder(
        order_id=42, order_number="#1042", subtotal=Decimal(100), email=FRIEND,
        shopify_customer_id=None,
    )  # fmt: skip
    await on_order_paid(shop=shop, order=order, now=utcnow())
    return shop, ann


class TestReferralEvents:
    async def test_klaviyo_gets_both_events_once_and_the_code_on_the_profile(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        shop, ann = await referred_and_completed(settings, Platform.KLAVIYO)
        with partner_mock() as mock:
            profiles = mock.post(f"{KLAVIYO}/api/profile-import").mock(
                return_value=httpx.Response(200, json=KLAVIYO_PROFILE)
            )
            events = mock.post(f"{KLAVIYO}/api/events").mock(return_value=httpx.Response(202))
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            await run_job(JobName.SYNC_KLAVIYO_PROFILES, deps, shop)
            assert mock.refusals == []  # every request passed the vendor's contract

        attributes = [b["data"]["attributes"] for b in sent(events)]
        by_name = {a["metric"]["data"]["attributes"]["name"]: a for a in attributes}
        assert sorted(by_name) == [
            "Loyalty Points Earned",
            "Loyalty Referral Completed",
            "Loyalty Referral Sent",
        ]
        assert len(attributes) == 3  # each once, however often the job runs
        completed = by_name["Loyalty Referral Completed"]["properties"]
        assert (completed["points"], completed["order_number"]) == (500, "#1042")
        sent_event = by_name["Loyalty Referral Sent"]["properties"]
        assert sent_event["friend_reward"] == "Friend $5 off"
        assert FRIEND not in json.dumps(sent(events))
        [profile] = sent(profiles)
        properties = profile["data"]["attributes"]["properties"]
        code = await code_for(shop_id=shop.id, customer_id=ann.id)
        assert properties["Loyalty Referral Code"] == code
        assert properties["Loyalty Referral URL"].endswith(f"/apps/loyalty/r/{code}")

    async def test_omnisend_and_postscript_get_them_under_their_names(
        self, settings: Settings, deps: JobDeps
    ) -> None:
        omnisend_shop, ann = await referred_and_completed(settings, Platform.OMNISEND)
        with partner_mock() as mock:
            contacts = mock.post(f"{OMNISEND}/contacts").mock(
                return_value=httpx.Response(200, json={"id": "60a6"})
            )
            events = mock.post(f"{OMNISEND}/events").mock(return_value=httpx.Response(202))
            await run_job(JobName.SYNC_OMNISEND_CONTACTS, deps, omnisend_shop)
            assert mock.refusals == []
        assert {b["eventName"] for b in sent(events)} == {
            "loyalty points earned",
            "loyalty referral sent",
            "loyalty referral completed",
        }
        [contact] = sent(contacts)
        assert contact["customProperties"]["loyalty_referral_code"] == await code_for(
            shop_id=omnisend_shop.id, customer_id=ann.id
        )

        postscript_shop, bob = await referred_and_completed(settings, Platform.POSTSCRIPT)
        lookup = {
            "page_info": {"page": 1, "total_pages": 1},
            "subscribers": [{"id": "s_abc", "properties": {}}],
        }
        with partner_mock() as mock:
            mock.get(f"{POSTSCRIPT}/api/v2/subscribers").mock(
                return_value=httpx.Response(200, json=lookup)
            )
            mock.patch(f"{POSTSCRIPT}/api/v2/subscribers/s_abc").mock(
                return_value=httpx.Response(200, json={"id": "s_abc"})
            )
            posted = mock.post(f"{POSTSCRIPT}/api/v2/events").mock(
                return_value=httpx.Response(202, json={"event_ids": ["1"]})
            )
            await run_job(JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, deps, postscript_shop)
            assert mock.refusals == []
        assert {b["type"] for b in sent(posted)} == {
            "LoyaltyPointsEarned",
            "LoyaltyReferralSent",
            "LoyaltyReferralCompleted",
        }
        assert bob.shop_id == postscript_shop.id
