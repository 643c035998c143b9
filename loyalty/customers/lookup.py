"""Finding a shop's customer by what integrations send: a Shopify customer id or an email.

The one place a `Customer` is looked up by those (the comparison rule itself is
loyalty.customers.identifiers). Always within one shop: another shop's customer is never found.
"""

from __future__ import annotations

from tortoise.queryset import QuerySet

from loyalty.customers.identifiers import CustomerIdentifier
from loyalty.models import Customer


def matching(shop_id: int, identifier: CustomerIdentifier) -> QuerySet[Customer] | None:
    """The shop's customers the identifier names (by email: first enrolled first); None when it
    can name no one."""
    if identifier.shopify_customer_id is not None:
        return Customer.filter(shop_id=shop_id, shopify_customer_id=identifier.shopify_customer_id)
    if identifier.email_key is not None:
        return Customer.filter(shop_id=shop_id, email_key=identifier.email_key).order_by("id")
    return None


async def by_shopify_id(shop_id: int, shopify_customer_id: int) -> Customer | None:
    """The shop's customer with this Shopify customer id (unique per shop), if enrolled."""
    return await Customer.get_or_none(shop_id=shop_id, shopify_customer_id=shopify_customer_id)
