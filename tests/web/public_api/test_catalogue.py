"""`/api/v1/earning-rules` and `/api/v1/vip-tiers`: what the programme offers."""

from __future__ import annotations

import pytest

from loyalty.models import EarningRule, RuleCategory
from tests.factories import create_rule, create_shop, create_tier
from tests.web.public_api.helpers import Api, World, error_of


class TestListEarningRules:
    async def test_lists_rules_with_the_seed_attributes(self, api: Api, world: World) -> None:
        """`points_to_give` and the seed's fields, plus the custom-action configuration."""
        response = await api.get("/earning-rules")
        assert response.status_code == 200
        body = response.json()
        assert body["meta"]["total"] == 3
        review = next(r for r in body["data"] if r["id"] == world.review.public_id)
        assert review["type"] == "earning_rule"
        attributes = review["attributes"]
        assert {
            "name",
            "description",
            "action",
            "category",
            "is_active",
            "points_to_give",
            "customer_facing_label",
            "call_to_action_url",
            "created_at",
            "updated_at",
        } <= set(attributes)
        assert attributes["points_to_give"] == 10 and attributes["category"] == "custom"
        assert (attributes["action_key"], attributes["repeatable"]) == ("review_written", True)
        assert (attributes["limit_count"], attributes["limit_period_days"]) == (2, 7)

    async def test_filters_by_activity_and_category(self, api: Api, world: World) -> None:
        """filter[is_active] and filter[category]."""
        await EarningRule.filter(id=world.quiz.id).update(is_active=False)
        inactive = await api.get("/earning-rules", {"filter[is_active]": "false"})
        custom = await api.get(
            "/earning-rules", {"filter[category]": "custom", "filter[is_active]": "true"}
        )
        assert [r["id"] for r in inactive.json()["data"]] == [world.quiz.public_id]
        assert [r["id"] for r in custom.json()["data"]] == [world.review.public_id]

    async def test_sorts_by_name(self, api: Api, world: World) -> None:
        """sort=name ascending, -name descending."""
        names = [
            r["attributes"]["name"]
            for r in (await api.get("/earning-rules", {"sort": "name"})).json()["data"]
        ]
        assert names == sorted(names)
        backwards = (await api.get("/earning-rules", {"sort": "-name"})).json()["data"]
        assert [r["attributes"]["name"] for r in backwards] == sorted(names, reverse=True)

    @pytest.mark.parametrize(
        ("params", "parameter"),
        [
            ({"filter[is_active]": "maybe"}, "filter[is_active]"),
            ({"filter[category]": "shopping"}, "filter[category]"),
            ({"sort": "points"}, "sort"),
            ({"page[size]": "0"}, "page[size]"),
        ],
    )
    async def test_bad_parameters_are_400(
        self, api: Api, world: World, params: dict[str, str], parameter: str
    ) -> None:
        """Each bad parameter is named in `source.parameter`."""
        response = await api.get("/earning-rules", params)
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": parameter}

    async def test_pages_with_meta(self, api: Api, world: World) -> None:
        """page[size]=2 over three rules: two pages."""
        response = await api.get("/earning-rules", {"page[size]": "2", "page[number]": "2"})
        assert response.json()["meta"] == {"total": 3, "page": 2, "per_page": 2, "total_pages": 2}
        assert len(response.json()["data"]) == 1


class TestGetEarningRule:
    async def test_fetches_one_rule(self, api: Api, world: World) -> None:
        """By its `rule_…` id."""
        response = await api.get(f"/earning-rules/{world.rule.public_id}")
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["points_to_give"] == 100

    async def test_another_shops_rule_is_404(self, api: Api, world: World) -> None:
        """Scoped to the key's shop."""
        other = await create_rule(await create_shop(), category=RuleCategory.ENGAGEMENT)
        response = await api.get(f"/earning-rules/{other.public_id}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "earning_rule_not_found"


class TestListVipTiers:
    async def test_lists_every_tier_lowest_first_unpaginated(self, api: Api, world: World) -> None:
        """All tiers by threshold, multipliers as numbers, a total in meta."""
        response = await api.get("/vip-tiers", {"page[size]": "1"})
        body = response.json()
        assert [t["attributes"]["name"] for t in body["data"]] == ["Bronze", "Gold"]
        assert body["data"][1]["attributes"]["points_multiplier"] == 1.5
        assert body["data"][1]["attributes"]["points_required"] == 1000
        assert body["meta"] == {"total": 2}

    async def test_another_shops_tiers_are_not_listed(self, api: Api, world: World) -> None:
        """Scoped to the key's shop."""
        await create_tier(await create_shop(), name="Elsewhere", points_required=5)
        names = [t["attributes"]["name"] for t in (await api.get("/vip-tiers")).json()["data"]]
        assert "Elsewhere" not in names


class TestGetVipTier:
    async def test_fetches_one_tier_or_404(self, api: Api, world: World) -> None:
        """By its `tier_…` id; an unknown id is 404 vip_tier_not_found."""
        found = await api.get(f"/vip-tiers/{world.gold.public_id}")
        missing = await api.get("/vip-tiers/tier_nope")
        assert found.json()["data"]["attributes"]["name"] == "Gold"
        assert missing.status_code == 404
        assert error_of(missing)["code"] == "vip_tier_not_found"
