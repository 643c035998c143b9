"""The embedded admin as App Bridge calls it: `/app/api` requests carrying a fresh ID token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.tokens import bearer

RETRY_HEADER = "x-shopify-retry-invalid-session-request"


@dataclass
class Admin:
    """An App Bridge fetch client: every request carries a fresh ID token for `shop_name`."""

    client: httpx.AsyncClient
    shop_name: str = "demo"
    staff: str = "42"

    async def request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        headers = bearer(self.shop_name, sub=self.staff)
        return await self.client.request(method, f"/app/api{path}", json=json, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.request("GET", path)

    async def post(self, path: str, json: Any = None) -> httpx.Response:
        return await self.request("POST", path, json)

    async def patch(self, path: str, json: Any) -> httpx.Response:
        return await self.request("PATCH", path, json)

    async def delete(self, path: str) -> httpx.Response:
        return await self.request("DELETE", path)
