"""The mandatory compliance bodies: customers/data_request, customers/redact, shop/redact."""

from __future__ import annotations

from pydantic import ConfigDict, model_validator

from loyalty.webhooks.payloads.base import (
    Payload,
    ShopifyId,
    _marks_of_all_but,
    _named_shop,
    _shop_id,
)


class ComplianceCustomer(Payload):
    id: ShopifyId | None = None
    email: str | None = None

    @model_validator(mode="after")
    def _names_someone(self) -> ComplianceCustomer:
        if self.id is None and not (self.email and self.email.strip()):
            raise ValueError("names no customer (neither id nor email)")
        return self


class DataRequestRef(Payload):
    id: ShopifyId


class CompliancePayload(Payload):
    """The mandatory compliance topics name their shop: `shop_id` and `shop_domain`."""

    shop_id: ShopifyId
    shop_domain: str

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        return _named_shop(self.shop_domain, domain) or _shop_id(self.shop_id, shopify_shop_id)


class ShopRedactPayload(CompliancePayload):
    """shop/redact: exactly `{"shop_id", "shop_domain"}`, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerDataRequestPayload(CompliancePayload):
    """customers/data_request: the customer, `orders_requested` and the `data_request` id."""

    other_topics_keys = _marks_of_all_but("compliance") | {"orders_to_redact"}

    customer: ComplianceCustomer
    orders_requested: list[int]
    data_request: DataRequestRef


class CustomerRedactPayload(CompliancePayload):
    """customers/redact: the customer and `orders_to_redact`; no data request."""

    other_topics_keys = _marks_of_all_but("compliance") | {"data_request", "orders_requested"}

    customer: ComplianceCustomer
    orders_to_redact: list[int]
