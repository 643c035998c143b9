"""shopify.app.toml and web/shopify.web.toml against the app: what Shopify is told to call exists,
and everything the app serves for Shopify is declared."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from starlette.routing import Mount, Route

from loyalty.settings import SHOPIFY_API_VERSION, Settings
from loyalty.webhooks.topics import TOPICS_BY_GROUP, Topic
from web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
APP_TOML_TEXT = (ROOT / "shopify.app.toml").read_text()
APP_TOML = tomllib.loads(APP_TOML_TEXT)
WEB_TOML = tomllib.loads((ROOT / "web" / "shopify.web.toml").read_text())
APP = create_app(Settings(secret_key="config-test"), manage_db=False)


def post_routes() -> set[str]:
    return {
        route.path
        for route in APP.routes
        if isinstance(route, Route) and route.methods and "POST" in route.methods
    }


def subscriptions() -> list[dict[str, object]]:
    return list(APP_TOML["webhooks"]["subscriptions"])


def topics_of(subscription: dict[str, object]) -> list[str]:
    topics = subscription.get("topics") or subscription.get("compliance_topics") or []
    assert isinstance(topics, list)
    return [str(topic) for topic in topics]


class TestAppToml:
    def test_is_an_embedded_app_at_the_site_root(self) -> None:
        """Relative URIs are appended to application_url, so it must be the site root."""
        assert APP_TOML["embedded"] is True
        assert urlsplit(APP_TOML["application_url"]).path in {"", "/"}
        assert APP_TOML["access_scopes"]["use_legacy_install_flow"] is False
        assert "auth" in APP_TOML  # the CLI schema requires the table

    def test_asks_for_the_scopes_the_app_uses(self) -> None:
        """Customers, orders and the app proxy."""
        scopes = set(APP_TOML["access_scopes"]["scopes"].split(","))
        assert {"read_customers", "write_customers", "read_orders", "write_app_proxy"} <= scopes

    def test_pins_the_api_version_the_code_uses(self) -> None:
        """One version for webhook payloads and Admin API calls."""
        assert APP_TOML["webhooks"]["api_version"] == SHOPIFY_API_VERSION

    def test_every_subscription_has_a_route_that_accepts_exactly_its_topics(self) -> None:
        """Each uri is a POST route of the app, and its group takes the topics of all the
        subscriptions delivered there (customers/* and the tag events share one)."""
        routes = post_routes()
        by_uri: dict[str, set[str]] = {}
        for subscription in subscriptions():
            uri = str(subscription["uri"])
            assert uri in routes, f"{uri} has no route"
            by_uri.setdefault(uri, set()).update(topics_of(subscription))
        for uri, topics in by_uri.items():
            assert topics == set(TOPICS_BY_GROUP[uri.removeprefix("/webhooks/")]), uri

    def test_no_topic_is_subscribed_twice(self) -> None:
        """Two subscriptions to one topic would deliver every event twice."""
        declared = [topic for s in subscriptions() for topic in topics_of(s)]
        assert len(declared) == len(set(declared))

    def test_every_subscription_names_its_handler(self) -> None:
        """The comment above each subscription says which module handles it."""
        blocks = APP_TOML_TEXT.split("[[webhooks.subscriptions]]")[:-1]
        assert len(blocks) == len(subscriptions())
        for block in blocks:
            comment = block.rstrip().rsplit("\n\n", 1)[-1]
            assert "loyalty/webhooks/" in comment and comment.lstrip().startswith("#"), block

    def test_every_webhook_route_and_topic_is_subscribed(self) -> None:
        """The reverse: nothing the app handles is missing from the TOML."""
        declared_uris = {str(s["uri"]) for s in subscriptions()}
        webhook_routes = {path for path in post_routes() if path.startswith("/webhooks/")}
        assert webhook_routes == declared_uris
        declared_topics = {t for s in subscriptions() for t in topics_of(s)}
        assert declared_topics == {str(topic) for topic in Topic}

    def test_subscribes_the_three_compliance_topics(self) -> None:
        """Mandatory for public apps."""
        compliance = [s for s in subscriptions() if "compliance_topics" in s]
        assert len(compliance) == 1
        assert set(compliance[0]["compliance_topics"]) == {  # type: ignore[arg-type]
            "customers/data_request",
            "customers/redact",
            "shop/redact",
        }

    def test_the_app_proxy_reaches_the_proxy_routes(self) -> None:
        """Storefront /apps/loyalty/* → /proxy/*, which the app mounts."""
        proxy = APP_TOML["app_proxy"]
        assert (proxy["prefix"], proxy["subpath"], proxy["url"]) == ("apps", "loyalty", "/proxy")
        mounts = {route.path: route for route in APP.routes if isinstance(route, Mount)}
        assert "/proxy" in mounts and mounts["/proxy"].routes

    def test_declares_readable_customer_metafields(self) -> None:
        """App-owned customer metafields, readable by the storefront (the theme extension)."""
        fields = APP_TOML["customer"]["metafields"]["app"]
        assert {"points", "pending_points", "lifetime_points", "vip_tier", "status"} <= set(fields)
        for key, definition in fields.items():
            assert definition["access"]["storefront"] == "public_read", key
            assert definition["type"], key


class TestWebToml:
    def test_tells_the_cli_how_to_run_the_backend(self) -> None:
        """`shopify app dev` migrates, then serves on the port it picks."""
        assert "$PORT" in WEB_TOML["commands"]["dev"]
        assert "loyalty serve" in WEB_TOML["commands"]["dev"]
        assert WEB_TOML["webhooks_path"] in post_routes()
        assert set(WEB_TOML["roles"]) == {"frontend", "backend"}


def admin_enum(name: str) -> set[str]:
    """The values of enum `name` in the Admin GraphQL schema of the toml's API version, from
    Shopify's own introspection file in @shopify/dev-mcp (pinned in package-lock.json)."""
    import gzip
    import json

    version = APP_TOML["webhooks"]["api_version"]
    path = ROOT / f"node_modules/@shopify/dev-mcp/dist/data/admin_{version}.json.gz"
    assert path.exists(), f"{path} is missing: run `npm ci` (make test does)"
    schema = json.loads(gzip.decompress(path.read_bytes()))["data"]["__schema"]
    (enum,) = [t for t in schema["types"] if t["name"] == name]
    return {value["name"] for value in enum["enumValues"]}


def metafield_access() -> dict[str, dict[str, str]]:
    """The `access` table of every declared metafield definition, by `owner.key`."""
    return {
        f"{owner}.{key}": definition["access"]
        for owner in ("customer", "shop")
        for key, definition in APP_TOML[owner]["metafields"]["app"].items()
    }


class TestAppTomlForTheCli:
    def test_has_no_key_the_cli_strips(self) -> None:
        """`build.include_config_on_deploy` is no longer supported: the CLI drops it."""
        assert "include_config_on_deploy" not in APP_TOML["build"]

    def test_customer_accounts_can_read_the_customer_metafields(self) -> None:
        """The Customer Account API returns a metafield only when its definition grants access."""
        fields = APP_TOML["customer"]["metafields"]["app"]
        assert {key: d["access"].get("customer_account") for key, d in fields.items()} == {
            key: "read" for key in fields
        }

    def test_access_values_are_the_admin_api_enum_values(self) -> None:
        """`shopify app build` does not check them (Shopify does, at deploy): each is one of the
        pinned Admin schema's Metafield*AccessInput values, lower-cased."""
        allowed = {
            "admin": admin_enum("MetafieldAdminAccessInput"),
            "storefront": admin_enum("MetafieldStorefrontAccessInput"),
            "customer_account": admin_enum("MetafieldCustomerAccountAccessInput"),
        }
        wrong = {
            f"{name}.access.{api}": value
            for name, access in metafield_access().items()
            for api, value in access.items()
            if api not in allowed or value.upper() not in allowed[api]
        }
        assert wrong == {}

    def test_comments_name_the_liquid_the_extension_uses(self) -> None:
        """Liquid reads app-owned metafields as `metafields['$app']`; `metafields.app` would be a
        namespace literally called "app". Neither the toml's comments nor the Liquid say that."""
        toml = (ROOT / "shopify.app.toml").read_text().splitlines()
        comments = [line for line in toml if line.lstrip().startswith("#")]
        assert [line for line in comments if "metafields.app." in line] == []
        assert any("customer.metafields['$app']" in line for line in comments)
        liquid = {p.name: p.read_text() for p in (ROOT / "extensions").rglob("*.liquid")}
        assert [name for name, text in liquid.items() if "metafields.app" in text] == []
        assert any("metafields['$app']" in text for text in liquid.values())
