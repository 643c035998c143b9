"""The public API's docs page (/api/v1/docs) in real Chromium: it renders every operation of
the OpenAPI document from the page alone, fetching nothing from anywhere else."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, Request

from tests.browser.conftest import LiveApp, park_pointer, screenshot_path
from web.public_api.routes import document


class TestApiDocsPage:
    @pytest.mark.screenshot
    async def test_renders_every_operation_without_fetching_anything(
        self, page: Page, live_app: LiveApp
    ) -> None:
        """One article per operation, the title and intro filled in, one request, no errors."""
        requested: list[str] = []
        errors: list[str] = []

        def record(request: Request) -> None:
            requested.append(request.url)

        page.on("request", record)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        response = await page.goto(f"{live_app.url}/api/v1/docs")
        assert response is not None and response.status == 200
        doc = document()
        operations = [
            (method.upper(), path, operation["operationId"])
            for path, item in doc["paths"].items()
            for method, operation in item.items()
            if method in {"get", "post", "put", "patch", "delete"}
        ]
        for method, path, operation_id in operations:
            heading = page.locator(f"article#{operation_id} h2")
            assert await heading.inner_text() == f"{method}{doc['servers'][0]['url']}{path}", (
                operation_id
            )
        assert await page.locator("article").count() == len(operations)
        assert await page.locator("nav a").count() == len(operations)
        assert doc["info"]["title"] in await page.locator("#title").inner_text()
        assert await page.locator("section.intro p").count() > 0
        await park_pointer(page)
        await page.screenshot(
            path=screenshot_path("api-docs"), full_page=False, animations="disabled"
        )
        assert errors == []
        assert requested == [f"{live_app.url}/api/v1/docs"]
