"""The webhook topics the app subscribes to, and which route receives each group."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    APP_UNINSTALLED = "app/uninstalled"
    APP_SCOPES_UPDATE = "app/scopes_update"
    CUSTOMERS_CREATE = "customers/create"
    CUSTOMERS_UPDATE = "customers/update"
    # Since API 2025-01 customer bodies carry no consent: each change of it comes here.
    CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE = "customers_email_marketing_consent/update"
    # The topic names Shopify's webhook reference and shopify.app.toml use for the tag events,
    # and what their deliveries carry in X-Shopify-Topic (a dot, not a slash).
    CUSTOMER_TAGS_ADDED = "customer.tags_added"
    CUSTOMER_TAGS_REMOVED = "customer.tags_removed"
    ORDERS_PAID = "orders/paid"
    ORDERS_CANCELLED = "orders/cancelled"
    REFUNDS_CREATE = "refunds/create"
    CUSTOMERS_DATA_REQUEST = "customers/data_request"
    CUSTOMERS_REDACT = "customers/redact"
    SHOP_REDACT = "shop/redact"


# `/webhooks/<group>` accepts exactly these topics; anything else sent there is refused (400),
# so a misconfigured subscription fails loudly instead of being handled by the wrong code.
TOPICS_BY_GROUP: dict[str, frozenset[Topic]] = {
    "app": frozenset({Topic.APP_UNINSTALLED, Topic.APP_SCOPES_UPDATE}),
    "customers": frozenset(
        {
            Topic.CUSTOMERS_CREATE,
            Topic.CUSTOMERS_UPDATE,
            Topic.CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE,
            Topic.CUSTOMER_TAGS_ADDED,
            Topic.CUSTOMER_TAGS_REMOVED,
        }
    ),
    "orders": frozenset({Topic.ORDERS_PAID, Topic.ORDERS_CANCELLED, Topic.REFUNDS_CREATE}),
    "compliance": frozenset(
        {Topic.CUSTOMERS_DATA_REQUEST, Topic.CUSTOMERS_REDACT, Topic.SHOP_REDACT}
    ),
}
