"""`/app/api/referrals…` for the admin Referrals page, on SQLite and PostgreSQL: the programme
settings read and updated (and refused with a pointer, nothing written), the shop's referrals
listed by status, a blocked one approved; another shop's referral is 404, the token is
required."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.models import Referral, ReferralProgramme, RewardKind, Shop
from loyalty.referrals.codes import code_for
from loyalty.referrals.programme import update_programme
from loyalty.referrals.start import start_referral
from tests.factories import create_customer
from tests.loyalty.rewards.helpers import reward
from tests.web.admin_client import Admin

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def attributes(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["data"]["attributes"]  # type: ignore[no-any-return]


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errors"][0]["code"]


async def running(shop: Shop) -> tuple[str, str]:
    """The shop's programme on with a $5 friend's reward; an advocate's code and email."""
    friend = await reward(shop)
    await update_programme(
        shop_id=shop.id, changes={"enabled": True, "friend_reward_id": friend.public_id}
    )
    ann = await create_customer(shop, email="ann@example.com")
    code = await code_for(shop_id=shop.id, customer_id=ann.id)
    assert code is not None
    return code, "ann@example.com"


async def refer(shop: Shop, code: str, email: str) -> str:
    started = await start_referral(
        shop=shop, code=code, friend_email=email, ip=None, device_id=None, now=utcnow()
    )
    return started.referral.id


class TestProgrammeSettings:
    async def test_defaults_then_an_update(self, admin: Admin, shop: Shop) -> None:
        before = attributes(await admin.get("/referrals/programme"))
        assert before["enabled"] is False and before["friend_reward_id"] is None
        assert set(before["checks"].values()) == {True} and len(before["checks"]) == 8
        assert (before["max_per_ip"], before["window_hours"], before["pending_days"]) == (3, 24, 30)
        friend = await reward(shop)
        after = attributes(
            await admin.patch(
                "/referrals/programme",
                {
                    "enabled": True,
                    "friend_reward_id": friend.public_id,
                    "disabled_checks": ["ip_limit"],
                    "max_per_device": 5,
                    "pending_days": 14,
                },
            )
        )
        assert (after["enabled"], after["friend_reward_id"], after["friend_reward_name"]) == (
            True,
            friend.public_id,
            "$5 off",
        )
        assert after["checks"]["ip_limit"] is False and after["checks"]["same_email"] is True
        assert (after["max_per_device"], after["pending_days"]) == (5, 14)
        assert attributes(await admin.get("/referrals/programme")) == after

    async def test_refusals_name_the_field_and_write_nothing(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        credit = await reward(shop, name="Credit", kind=RewardKind.STORE_CREDIT)
        theirs = await reward(other_shop)
        for body, expected, pointer in (
            ({"enabled": True}, (422, "invalid_referral_settings"), "/friend_reward_id"),
            ({"friend_reward_id": credit.public_id}, (422, "invalid_referral_settings"), None),
            ({"friend_reward_id": theirs.public_id}, (404, "reward_not_found"), None),
            ({"disabled_checks": ["vibes"]}, (422, "invalid_referral_settings"), None),
            ({"max_per_ip": 0}, (422, "invalid_referral_settings"), "/max_per_ip"),
            ({"window_hours": "24"}, (422, "validation_failed"), None),
        ):
            response = await admin.patch("/referrals/programme", body)
            assert error_code(response)[0] == expected[0], (body, response.text)
            if pointer:
                assert response.json()["errors"][0]["source"]["pointer"] == pointer
        assert not await ReferralProgramme.filter(shop_id=shop.id, enabled=True).exists()


class TestReferralsList:
    async def test_newest_first_filtered_by_status_and_only_the_shops(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        code, advocate_email = await running(shop)
        fred = await refer(shop, code, "fred@example.com")
        self_referral = await refer(shop, code, advocate_email)
        other_code, _ = await running(other_shop)
        await refer(other_shop, other_code, "zed@example.com")
        listed = (await admin.get("/referrals")).json()
        assert [item["id"] for item in listed["data"]] == [self_referral, fred]
        assert listed["meta"]["total"] == 2
        blocked = (await admin.get("/referrals?filter[status]=blocked")).json()["data"]
        [row] = blocked
        assert (row["attributes"]["block_reason"], row["attributes"]["approvable"]) == (
            "same_customer",
            True,
        )
        assert row["attributes"]["advocate_email"] == advocate_email
        bad = await admin.get("/referrals?filter[status]=won")
        assert error_code(bad) == (400, "invalid_parameter")


class TestApprove:
    async def test_a_blocked_referral_is_approved_by_the_staff_member(
        self, admin: Admin, shop: Shop
    ) -> None:
        code, advocate_email = await running(shop)
        blocked = await refer(shop, code, advocate_email)
        approved = attributes(await admin.post(f"/referrals/{blocked}/approve"))
        assert (approved["status"], approved["approved_by"], approved["approvable"]) == (
            "pending",
            "42",
            False,
        )
        assert approved["friend_discount_code"].startswith("FRIEND-")
        again = await admin.post(f"/referrals/{blocked}/approve")
        assert error_code(again) == (409, "referral_not_blocked")

    async def test_another_shops_or_unknown_referral_is_404(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        await running(shop)
        other_code, other_email = await running(other_shop)
        theirs = await refer(other_shop, other_code, other_email)
        for referral_id in (theirs, "ref_unknown"):
            response = await admin.post(f"/referrals/{referral_id}/approve")
            assert error_code(response) == (404, "referral_not_found")
        assert (await Referral.get(public_id=theirs)).status == "blocked"

    async def test_without_a_token_nothing_is_read_or_approved(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        code, advocate_email = await running(shop)
        blocked = await refer(shop, code, advocate_email)
        assert (await client.get("/app/api/referrals")).status_code == 401
        assert (await client.post(f"/app/api/referrals/{blocked}/approve")).status_code == 401
        assert (await Referral.get(public_id=blocked)).status == "blocked"
