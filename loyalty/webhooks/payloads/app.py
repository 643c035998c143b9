"""App lifecycle bodies: app/uninstalled (the shop resource) and app/scopes_update."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import field_validator

from loyalty.webhooks.payloads.base import (
    Payload,
    ShopifyId,
    _gid_number,
    _marks_of_all_but,
    _named_shop,
    _shop_id,
)


class AppUninstalledPayload(Payload):
    """app/uninstalled: the REST Shop resource of the shop that uninstalled: its `id`, `name`
    and `myshopify_domain` (never null for a real shop: Shop.myshopifyDomain is `String!` in
    the Admin schema; the docs' example leaves it null), which must be the delivery's shop."""

    other_topics_keys = _marks_of_all_but("shop")

    id: ShopifyId
    name: str
    myshopify_domain: str
    domain: str | None = None

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        return _named_shop(self.myshopify_domain, domain) or _shop_id(self.id, shopify_shop_id)


class ScopesUpdatePayload(Payload):
    """app/scopes_update: `{"id", "shop_id": "gid://shopify/Shop/…", "previous": [...],
    "current": [...], "updated_at"}`."""

    other_topics_keys = _marks_of_all_but("scopes")

    shop_id: str | None = None
    previous: list[str]
    current: list[str]
    updated_at: datetime

    @field_validator("previous", "current", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return (
            [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, str)
            else value
        )

    @field_validator("shop_id")
    @classmethod
    def _shop_gid(cls, value: str | None) -> str | None:
        if value is not None:
            _gid_number(value, "Shop")
        return value

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        if self.shop_id is None:
            return None
        return _shop_id(_gid_number(self.shop_id, "Shop"), shopify_shop_id)
