"""Read-only API keys: every GET of /api/v1 works, every write is 403. The routes are read
from the mounted app, so a write route added later is covered (or fails here for want of a
body)."""

from __future__ import annotations

from typing import Any

from loyalty.models import Customer, EarningHistoryEntry, Redemption
from tests.web.public_api.helpers import Api, World, error_of
from tests.web.public_api.test_openapi import api_routes


def path_of(template: str, world: World) -> str:
    values = {
        "identifier": "6789012345",
        "rule_id": world.rule.public_id,
        "tier_id": world.gold.public_id,
        "reward_id": world.reward.public_id,
    }
    return template.format(**values)


def write_bodies(world: World) -> dict[str, Any]:
    """A valid body per write route (by route name), as a full key would send it."""
    return {
        "api.customers.enroll": {"shopify_customer_id": 1},
        "api.customers.update": {"is_excluded": True},
        "api.customers.points": {"adjustment": 5},
        "api.earning_rules.award": {"customer_identifier": "6789012345"},
        "api.actions.award": {"action_key": "quiz_completed", "customer_id": 6789012345},
        "api.rewards.purchase": {"customer_identifier": "bob@example.com"},  # 1200 points
    }


class TestReadOnlyKeys:
    async def test_every_get_is_allowed(self, api: Api, world: World) -> None:
        """Each GET route answers 200 to a read-only key."""
        gets = [r for r in api_routes() if "GET" in (r.methods or set())]
        assert len(gets) >= 14
        for route in gets:
            response = await api.get(path_of(route.path, world), key=world.read_key)
            assert response.status_code == 200, route.path

    async def test_every_write_is_403_and_writes_nothing(self, api: Api, world: World) -> None:
        """POST and PUT answer 403 read_only_api_key before anything happens."""
        bodies = write_bodies(world)
        writes = [r for r in api_routes() if (r.methods or set()) - {"GET", "HEAD"}]
        assert {r.name for r in writes} == set(bodies)
        for route in writes:
            for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
                response = await api.client.request(
                    method,
                    f"/api/v1{path_of(route.path, world)}",
                    json=bodies[route.name],
                    headers={"Authorization": world.read_key},
                )
                assert response.status_code == 403, route.path
                assert error_of(response)["code"] == "read_only_api_key"
        assert not await EarningHistoryEntry.all().exists()
        assert not await Redemption.all().exists()
        assert await Customer.filter(is_excluded=True).count() == 0
        assert await Customer.filter(shopify_customer_id=1).count() == 0

    async def test_the_same_writes_succeed_with_a_full_key(self, api: Api, world: World) -> None:
        """The bodies above are valid: a full key's writes are 2xx (so the 403s are the key)."""
        bodies = write_bodies(world)
        # Excluding the customer last: the points and awards before it need a member.
        for route in sorted(api_routes(), key=lambda r: r.name == "api.customers.update"):
            for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
                response = await api.client.request(
                    method,
                    f"/api/v1{path_of(route.path, world)}",
                    json=bodies[route.name],
                    headers={"Authorization": world.key},
                )
                assert 200 <= response.status_code < 300, (route.path, response.text)
