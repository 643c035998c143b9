"""The OpenAPI 3.1 document of /api/v1 and its web page, and that the document and the routes
agree."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from starlette.routing import Mount, Route

from loyalty.settings import Settings
from tests.web.public_api.helpers import World
from web.app import create_app
from web.public_api import routes as public_api
from web.public_api.routes import document

IGNORED_METHODS = {"HEAD"}  # Starlette answers HEAD for every GET route


def api_routes() -> list[Route]:
    """The routes under the /api/v1 mount of the real app."""
    app = create_app(Settings(database_url="sqlite://:memory:"), manage_db=False)
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1")
    routes = [r for r in mount.routes if isinstance(r, Route)]
    assert len(routes) == len(mount.routes), "only plain routes are expected under /api/v1"
    return routes


def disagreements(routes: list[Route], doc: dict[str, Any]) -> list[str]:
    """Every route's methods documented, and every documented operation routed."""
    routed: dict[str, set[str]] = {}
    for route in routes:
        routed.setdefault(route.path, set()).update((route.methods or set()) - IGNORED_METHODS)
    documented = {
        path: {m.upper() for m in item if m in {"get", "post", "put", "patch", "delete"}}
        for path, item in doc["paths"].items()
    }
    problems = []
    for path in sorted(set(routed) | set(documented)):
        missing = routed.get(path, set()) - documented.get(path, set())
        extra = documented.get(path, set()) - routed.get(path, set())
        problems += [f"{m} {path} is routed but not documented" for m in sorted(missing)]
        problems += [f"{m} {path} is documented but not routed" for m in sorted(extra)]
    return problems


class TestOpenApiDocument:
    async def test_is_served_without_a_key(self, client: httpx.AsyncClient, db: str) -> None:
        """GET /api/v1/openapi.json needs no API key and is OpenAPI 3.1 JSON."""
        response = await client.get("/api/v1/openapi.json")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["openapi"] == "3.1.0"
        assert body == json.loads(json.dumps(document()))

    async def test_every_route_is_documented_and_every_path_routed(self, db: str) -> None:
        """The document and the mounted routes agree, method by method."""
        assert disagreements(api_routes(), document()) == []

    async def test_the_check_catches_a_disagreement(self) -> None:
        """An undocumented route and a documented path without a route are both reported."""
        routes = [*public_api.routes, Route("/secret", public_api.api_docs, methods=["DELETE"])]
        doc = json.loads(json.dumps(document()))
        doc["paths"]["/ghost"] = {"get": {}}
        assert disagreements(routes, doc) == [
            "GET /ghost is documented but not routed",
            "DELETE /secret is routed but not documented",
        ]

    async def test_path_parameters_match_the_routes(self, db: str) -> None:
        """Each documented path declares exactly the parameters its route path has."""
        for path, item in document()["paths"].items():
            declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path

    async def test_every_operation_documents_auth_and_rate_limit_errors(self, db: str) -> None:
        """401 on every keyed operation, 429 everywhere, each with the RateLimit headers."""
        for path, item in document()["paths"].items():
            for method, operation in item.items():
                if method == "parameters":
                    continue
                responses = operation["responses"]
                assert "429" in responses, (method, path)
                assert "Retry-After" in responses["429"]["headers"]
                if operation.get("security") != []:
                    assert "401" in responses, (method, path)
                for response in responses.values():
                    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                        response["headers"]
                    )


class TestApiDocsPage:
    async def test_is_a_self_contained_page_rendering_the_document(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """HTML with the document embedded and no external script, style or font."""
        response = await client.get("/api/v1/docs")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        assert '<script id="openapi" type="application/json">' in html
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
        assert "@import" not in html and "url(" not in html
        embedded = html.split('type="application/json">', 1)[1].split("</script>", 1)[0]
        assert json.loads(embedded) == json.loads(json.dumps(document()))
