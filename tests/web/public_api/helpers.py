"""What the public API tests share: the seeded world, a keyed client, error checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from loyalty.models import Customer, EarningRule, Reward, Shop, VipTier


@dataclass
class World:
    shop: Shop  # connected: an offline token valid for an hour
    key: str
    read_key: str
    bronze: VipTier  # 0 points, ×1.00
    gold: VipTier  # 1000 points, ×1.50
    rule: EarningRule  # social, 100 points
    quiz: EarningRule  # custom action "quiz_completed", once per customer, 50 points
    review: EarningRule  # custom action "review_written", repeatable: 2 per 7 days, 10 points
    reward: Reward  # $5 off for 500 points, code valid 30 days
    ann: Customer  # 6789012345, ann@example.com, bronze
    bob: Customer  # 6789012346, bob@example.com, gold


@dataclass
class Api:
    """An integration's HTTP client: every request carries `key` unless told otherwise."""

    client: httpx.AsyncClient
    key: str | None

    def _headers(self, key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        sent = dict(headers or {})
        chosen = self.key if key is None else key
        if chosen:
            sent.setdefault("Authorization", chosen)
        return sent

    async def get(self, path: str, params: Any = None, *, key: str | None = None) -> httpx.Response:
        return await self.client.get(
            f"/api/v1{path}", params=params, headers=self._headers(key, None)
        )

    async def post(
        self,
        path: str,
        json: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1{path}", json=json, headers=self._headers(key, headers)
        )

    async def put(self, path: str, json: Any = None, *, key: str | None = None) -> httpx.Response:
        return await self.client.put(f"/api/v1{path}", json=json, headers=self._headers(key, None))


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The one JSON:API error object of an error response (checked for shape)."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["status"] == str(response.status_code)
    assert {"status", "code", "title", "detail"} <= set(error)
    return error  # type: ignore[no-any-return]
