"""Webhook bodies (Shopify's REST resources and event payloads): one class per topic, stating
what that topic sends, validated into what the handlers need.

Shopify's HMAC signs the body, not `X-Shopify-Topic` or `X-Shopify-Shop-Domain`, so an authentic
body can come back under another topic or shop. Each topic's class therefore requires what only
that topic's body carries (a cancellation's `cancelled_at`, a redaction's `orders_to_redact`,
the uninstalled shop's own `myshopify_domain` …) and refuses keys only other topics send; a body
that names its shop must name the delivery's. Judged against Shopify's 2026-07 example bodies
(standins/webhook_examples.py) and the topics' reference on shopify.dev.

Unknown fields are otherwise ignored. Money arrives as decimal strings and becomes `Decimal`,
never a float. Ids are JSON integers, read exactly (Python's `json` does not go through a
float); the docs' example payloads, generated in JavaScript, lost the digits past 2**53 (`"id":
706405506930370000` beside `admin_graphql_api_id` …370084). Real deliveries carry exact ids, and
`id` is what every topic links by (a refund's `order_id` has no gid beside it), so `id` it is.
A body that is not its topic's raises `NotTopicBodyError`: the processor records it on the event
and does not retry it (a redelivery carries the same body).
https://shopify.dev/docs/apps/build/webhooks/delivery-structure
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from loyalty.webhooks.payloads.app import AppUninstalledPayload, ScopesUpdatePayload
from loyalty.webhooks.payloads.base import (
    InvalidPayloadError,
    NotTopicBodyError,
    Payload,
    parse,
    reason_of,
)
from loyalty.webhooks.payloads.compliance import (
    ComplianceCustomer,
    CompliancePayload,
    CustomerDataRequestPayload,
    CustomerRedactPayload,
    DataRequestRef,
    ShopRedactPayload,
)
from loyalty.webhooks.payloads.customers import (
    CustomerCreatePayload,
    CustomerEmailConsentPayload,
    CustomerPayload,
    CustomerTagsAddedPayload,
    CustomerTagsPayload,
    CustomerTagsRemovedPayload,
    CustomerUpdatePayload,
)
from loyalty.webhooks.payloads.orders import (
    OrderCancelledPayload,
    OrderPaidPayload,
    OrderPayload,
    RefundLineItemPayload,
    RefundPayload,
)
from loyalty.webhooks.topics import Topic

__all__ = [
    "PAYLOAD_BY_TOPIC",
    "AppUninstalledPayload",
    "ComplianceCustomer",
    "CompliancePayload",
    "CustomerCreatePayload",
    "CustomerDataRequestPayload",
    "CustomerEmailConsentPayload",
    "CustomerPayload",
    "CustomerRedactPayload",
    "CustomerTagsAddedPayload",
    "CustomerTagsPayload",
    "CustomerTagsRemovedPayload",
    "CustomerUpdatePayload",
    "DataRequestRef",
    "InvalidPayloadError",
    "NotTopicBodyError",
    "OrderCancelledPayload",
    "OrderPaidPayload",
    "OrderPayload",
    "Payload",
    "RefundLineItemPayload",
    "RefundPayload",
    "ScopesUpdatePayload",
    "ShopRedactPayload",
    "parse",
    "parse_body",
]


# The class each topic's body must be (the processor parses with it, before the handler).
PAYLOAD_BY_TOPIC: dict[str, type[Payload]] = {
    Topic.APP_UNINSTALLED: AppUninstalledPayload,
    Topic.APP_SCOPES_UPDATE: ScopesUpdatePayload,
    Topic.CUSTOMERS_CREATE: CustomerCreatePayload,
    Topic.CUSTOMERS_UPDATE: CustomerUpdatePayload,
    Topic.CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE: CustomerEmailConsentPayload,
    Topic.CUSTOMER_TAGS_ADDED: CustomerTagsAddedPayload,
    Topic.CUSTOMER_TAGS_REMOVED: CustomerTagsRemovedPayload,
    Topic.ORDERS_PAID: OrderPaidPayload,
    Topic.ORDERS_CANCELLED: OrderCancelledPayload,
    Topic.REFUNDS_CREATE: RefundPayload,
    Topic.CUSTOMERS_DATA_REQUEST: CustomerDataRequestPayload,
    Topic.CUSTOMERS_REDACT: CustomerRedactPayload,
    Topic.SHOP_REDACT: ShopRedactPayload,
}


def parse_body(
    topic: str, payload: dict[str, Any], *, domain: str, shopify_shop_id: int | None
) -> Payload:
    """The body as its topic's class, about the delivery's shop (`domain`, and Shopify's id of
    it when known) if it names one. Raises NotTopicBodyError saying why it is not."""
    model = PAYLOAD_BY_TOPIC.get(topic)
    if model is None:
        raise InvalidPayloadError(f"no handler for topic {topic!r}")
    try:
        body = model.model_validate(payload)
    except PydanticValidationError as exc:
        raise NotTopicBodyError(topic, reason_of(exc)) from None
    if reason := body.other_shop(domain=domain, shopify_shop_id=shopify_shop_id):
        raise NotTopicBodyError(topic, reason)
    return body
