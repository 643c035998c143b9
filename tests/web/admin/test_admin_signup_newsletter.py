"""The admin's ways to earn for sign-up and newsletter: the API stores a sign-up rule's "only
after their first paid order", refuses it on other categories, and creates referral rules
(the advocate's points); the pages offer only the categories something awards and say when
each awards. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loyalty.models import EarningRule, RuleCategory, Shop
from tests.factories import create_rule
from tests.tokens import bearer

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    return await client.request(method, f"/app/api{path}", json=body, headers=bearer("demo"))


def rule_body(category: str, action: str, **fields: Any) -> dict[str, Any]:
    return {"name": "A way", "action": action, "category": category, "points": 200, **fields}


class TestEarningRulesApi:
    async def test_a_sign_up_rule_can_wait_for_the_first_paid_order(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await send(
            client,
            "POST",
            "/earning-rules",
            rule_body("signup", "create_account", after_first_order=True, approval_time_days=7),
        )
        assert response.status_code == 201, response.text
        attributes = response.json()["data"]["attributes"]
        assert (attributes["after_first_order"], attributes["approval_time_days"]) == (True, 7)
        rule_id = response.json()["data"]["id"]
        patched = await send(
            client, "PATCH", f"/earning-rules/{rule_id}", {"after_first_order": False}
        )
        assert patched.json()["data"]["attributes"]["after_first_order"] is False
        assert (await EarningRule.get(public_id=rule_id)).after_first_order is False

    async def test_a_newsletter_rule_is_created(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        response = await send(
            client, "POST", "/earning-rules", rule_body("newsletter", "newsletter_signup")
        )
        assert response.status_code == 201, response.text
        attributes = response.json()["data"]["attributes"]
        assert (attributes["category"], attributes["after_first_order"]) == ("newsletter", False)

    async def test_waiting_for_an_order_is_a_sign_up_setting_only(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """On create, and on a PATCH of another category's rule: 422, nothing written."""
        body = rule_body("newsletter", "newsletter_signup", after_first_order=True)
        response = await send(client, "POST", "/earning-rules", body)
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert (error["code"], error["source"]["pointer"]) == ("signup_only", "/after_first_order")
        assert await EarningRule.filter(shop=shop).count() == 0
        social = await create_rule(shop)
        patched = await send(
            client, "PATCH", f"/earning-rules/{social.public_id}", {"after_first_order": True}
        )
        assert (patched.status_code, patched.json()["errors"][0]["code"]) == (422, "signup_only")
        assert (await EarningRule.get(id=social.id)).after_first_order is False

    async def test_a_referral_rule_is_created_now_that_referrals_award_it(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The advocate's points: created, and a rule may move to the category too."""
        response = await send(client, "POST", "/earning-rules", rule_body("referral", "referral"))
        assert response.status_code == 201, response.text
        assert response.json()["data"]["attributes"]["category"] == "referral"
        social = await create_rule(shop)
        moved = await send(
            client, "PATCH", f"/earning-rules/{social.public_id}", {"category": "referral"}
        )
        assert moved.status_code == 200, moved.text
        assert (await EarningRule.get(id=social.id)).category == RuleCategory.REFERRAL
