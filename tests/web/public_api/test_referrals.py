"""`referral_code`/`referral_url` in the customer document, and GET
/api/v1/customers/{identifier}/referrals over HTTP, on SQLite and PostgreSQL: every field,
paging, sorting, the status filter, 400s for bad parameters, 404s for an unknown customer or
another shop's, and nothing of another shop's."""

from __future__ import annotations

import re
from typing import Any

from loyalty.clock import utcnow
from loyalty.referrals.codes import code_for
from loyalty.referrals.programme import update_programme
from loyalty.referrals.start import start_referral
from tests.factories import create_api_key, create_customer
from tests.loyalty.rewards.helpers import connected_shop
from tests.web.public_api.helpers import Api, World, error_of


async def refer(world: World, *friends: str) -> list[str]:
    """Bob refers each friend (the shop's programme on, its reward the friend's); their ids."""
    shop = world.shop
    await update_programme(
        shop_id=shop.id, changes={"enabled": True, "friend_reward_id": world.reward.public_id}
    )
    code = await _code(world)
    made = []
    for friend in friends:
        started = await start_referral(
            shop=shop, code=code, friend_email=friend, ip=None, device_id=None, now=utcnow()
        )
        made.append(started.referral.id)
    return made


async def _code(world: World) -> str:
    code = await code_for(shop_id=world.shop.id, customer_id=world.bob.id)
    assert code is not None
    return code


def attributes_of(response: Any) -> list[dict[str, Any]]:
    return [item["attributes"] for item in response.json()["data"]]


class TestCustomerDocument:
    async def test_every_member_has_a_referral_code_and_url(self, api: Api, world: World) -> None:
        """Made on first read and the same on every read, in the list and the single
        document alike; the URL is the storefront's app-proxy landing page."""
        one = (await api.get("/customers/bob@example.com")).json()["data"]["attributes"]
        code, url = one["referral_code"], one["referral_url"]
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)
        assert url == f"https://{world.shop.domain}/apps/loyalty/r/{code}"
        listed = attributes_of(await api.get("/customers"))
        by_email = {a["email"]: a for a in listed}
        assert by_email["bob@example.com"]["referral_code"] == code
        assert by_email["Ann@Example.com"]["referral_code"] not in (None, code)
        assert (await api.get("/customers/6789012346")).json()["data"]["attributes"][
            "referral_code"
        ] == code


class TestReferralList:
    async def test_a_referral_and_every_field(self, api: Api, world: World) -> None:
        [made] = await refer(world, "fred@example.com")
        response = await api.get("/customers/bob@example.com/referrals")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"] == {"total": 1, "page": 1, "per_page": 20, "total_pages": 1}
        [data] = body["data"]
        assert (data["type"], data["id"]) == ("referral", made)
        attributes = data["attributes"]
        for stamp in ("created_at", "updated_at", "expires_at"):
            assert attributes.pop(stamp).endswith("Z")
        code = attributes.pop("friend_discount_code")
        assert code.startswith("FRIEND-")
        assert attributes == {
            "shopify_customer_id": "6789012346",
            "friend_email": "fred@example.com",
            "friend_shopify_customer_id": None,
            "status": "pending",
            "block_reason": None,
            "friend_reward_id": world.reward.public_id,
            "friend_code_status": "pending",
            "order_id": None,
            "order_number": None,
            "earning_history_entry_id": None,
            "reward_history_entry_id": None,
            "approved_at": None,
            "converted_at": None,
            "completed_at": None,
            "reversed_at": None,
        }

    async def test_paging_sorting_and_the_status_filter(self, api: Api, world: World) -> None:
        made = await refer(world, "f1@example.com", "f2@example.com", "bob@example.com")
        path = "/customers/6789012346/referrals"
        newest = await api.get(path, {"page[size]": "2"})
        assert [d["id"] for d in newest.json()["data"]] == [made[2], made[1]]
        assert newest.json()["meta"]["total_pages"] == 2
        oldest = await api.get(path, {"sort": "created_at", "page[size]": "2", "page[number]": "2"})
        assert [d["id"] for d in oldest.json()["data"]] == [made[2]]
        blocked = await api.get(path, {"filter[status]": "blocked"})
        assert [(a["friend_email"], a["block_reason"]) for a in attributes_of(blocked)] == [
            ("bob@example.com", "same_customer")
        ]
        assert attributes_of(await api.get("/customers/ann@example.com/referrals")) == []

    async def test_unknown_or_other_shops_customer_is_404_bad_parameters_400(
        self, api: Api, world: World
    ) -> None:
        await refer(world, "fred@example.com")
        elsewhere = await connected_shop()
        await create_customer(elsewhere, shopify_customer_id=31337, email="eve@example.com")
        for who in ("nobody@example.com", "31337", "eve@example.com"):
            response = await api.get(f"/customers/{who}/referrals")
            assert response.status_code == 404, who
            assert error_of(response)["code"] == "customer_not_found"
        for params, parameter in (
            ({"filter[status]": "won"}, "filter[status]"),
            ({"sort": "friend_email"}, "sort"),
            ({"page[size]": "101"}, "page[size]"),
        ):
            response = await api.get("/customers/bob@example.com/referrals", params)
            assert response.status_code == 400, params
            assert error_of(response)["source"] == {"parameter": parameter}

    async def test_another_shops_key_sees_none_of_them(self, api: Api, world: World) -> None:
        await refer(world, "fred@example.com")
        elsewhere = await connected_shop()
        await create_customer(elsewhere, shopify_customer_id=6789012346, email="bob@example.com")
        other_key = (await create_api_key(elsewhere)).secret
        response = await api.get("/customers/bob@example.com/referrals", key=other_key)
        assert (response.status_code, response.json()["data"]) == (200, [])

    async def test_a_read_only_key_may_list_them(self, api: Api, world: World) -> None:
        await refer(world, "fred@example.com")
        response = await api.get("/customers/bob@example.com/referrals", key=world.read_key)
        assert response.status_code == 200 and len(response.json()["data"]) == 1
