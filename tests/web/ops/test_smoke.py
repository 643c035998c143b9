"""Smoke: the app starts and serves health on every backend."""

import httpx


class TestHealth:
    async def test_readyz_reports_ok(self, client: httpx.AsyncClient) -> None:
        """The readiness probe reaches the database."""
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
