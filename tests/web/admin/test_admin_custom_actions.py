"""The admin configuration API's custom-action fields on earning rules (`action_key`, once or
repeatable, cap and rolling period), and how they combine."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from loyalty.models import EarningRule, RuleCategory, Shop
from tests.factories import create_rule, create_shop
from tests.tokens import bearer

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    return await client.request(method, f"/app/api{path}", json=body, headers=bearer("demo"))


def custom(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Took the quiz",
        "action": "custom",
        "category": "custom",
        "points": 50,
        "action_key": "quiz_completed",
        **fields,
    }


class TestCreateEarningRule:
    async def test_creates_a_repeatable_capped_custom_action(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The four fields are stored and rendered."""
        response = await send(
            client,
            "POST",
            "/earning-rules",
            custom(repeatable=True, limit_count=3, limit_period_days=30),
        )
        assert response.status_code == 201, response.text
        attributes = response.json()["data"]["attributes"]
        assert attributes["action_key"] == "quiz_completed"
        assert (attributes["repeatable"], attributes["limit_count"]) == (True, 3)
        assert attributes["limit_period_days"] == 30
        rule = await EarningRule.get(public_id=response.json()["data"]["id"])
        assert (rule.category, rule.repeatable) == (RuleCategory.CUSTOM, True)

    async def test_a_plain_rule_defaults_to_none_of_them(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """A social rule: no action key, not repeatable, no cap."""
        response = await send(
            client,
            "POST",
            "/earning-rules",
            {"name": "Follow", "action": "follow_on_instagram", "category": "social", "points": 5},
        )
        attributes = response.json()["data"]["attributes"]
        assert (attributes["action_key"], attributes["repeatable"]) == (None, False)
        assert (attributes["limit_count"], attributes["limit_period_days"]) == (None, None)

    @pytest.mark.parametrize(
        ("body", "pointer", "code"),
        [
            (custom(action_key=None), "/action_key", "missing_field"),
            (custom(action_key="Quiz Done"), "/action_key", "invalid_field"),
            (custom(limit_count=2), "/limit_count", "limit_needs_repeatable"),
            (
                custom(repeatable=True, limit_period_days=7),
                "/limit_period_days",
                "period_needs_count",
            ),
            (custom(repeatable=True, limit_count=0), "/limit_count", "invalid_field"),
            (custom(category="social"), "/action_key", "custom_action_only"),
            (
                custom(category="social", action_key=None, repeatable=True),
                "/repeatable",
                "custom_action_only",
            ),
        ],
    )
    async def test_invalid_combinations_are_422_and_write_nothing(
        self, client: httpx.AsyncClient, shop: Shop, body: dict[str, Any], pointer: str, code: str
    ) -> None:
        """Each rule of combination has its code and points at the field."""
        response = await send(client, "POST", "/earning-rules", body)
        assert response.status_code == 422, response.text
        error = response.json()["errors"][0]
        assert (error["code"], error["source"]["pointer"]) == (code, pointer)
        assert not await EarningRule.filter(shop=shop).exists()

    async def test_an_action_key_is_unique_per_shop(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """A second rule with the same key: 409 action_key_taken; another shop may use it."""
        await create_rule(
            await create_shop(), category=RuleCategory.CUSTOM, action_key="quiz_completed"
        )
        first = await send(client, "POST", "/earning-rules", custom())
        second = await send(client, "POST", "/earning-rules", custom(name="Again"))
        assert first.status_code == 201
        assert second.status_code == 409
        assert second.json()["errors"][0]["code"] == "action_key_taken"


class TestUpdateEarningRule:
    async def test_makes_an_action_repeatable_with_a_cap(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """PATCH the fields; they combine with what is stored."""
        rule = await create_rule(shop, category=RuleCategory.CUSTOM, action_key="quiz_completed")
        response = await send(
            client,
            "PATCH",
            f"/earning-rules/{rule.public_id}",
            {"repeatable": True, "limit_count": 2, "limit_period_days": 7},
        )
        assert response.status_code == 200, response.text
        stored = await EarningRule.get(id=rule.id)
        assert (stored.repeatable, stored.limit_count, stored.limit_period_days) == (True, 2, 7)

    async def test_a_cap_cannot_outlive_repeatable(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Turning repeatable off while a cap is set is refused (clear the cap with it)."""
        rule = await create_rule(
            shop,
            category=RuleCategory.CUSTOM,
            action_key="quiz_completed",
            repeatable=True,
            limit_count=2,
        )
        refused = await send(
            client, "PATCH", f"/earning-rules/{rule.public_id}", {"repeatable": False}
        )
        allowed = await send(
            client,
            "PATCH",
            f"/earning-rules/{rule.public_id}",
            {"repeatable": False, "limit_count": None},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["code"] == "limit_needs_repeatable"
        assert allowed.status_code == 200

    async def test_a_taken_key_is_409(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """Renaming a key to one another rule has: 409, unchanged."""
        await create_rule(shop, category=RuleCategory.CUSTOM, action_key="quiz_completed")
        rule = await create_rule(shop, category=RuleCategory.CUSTOM, action_key="review_written")
        response = await send(
            client, "PATCH", f"/earning-rules/{rule.public_id}", {"action_key": "quiz_completed"}
        )
        assert response.status_code == 409
        assert (await EarningRule.get(id=rule.id)).action_key == "review_written"
