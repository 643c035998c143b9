"""What the sign-up and newsletter tests share: a shop that receives webhooks, rules made at a
chosen moment, deliveries of Shopify's real body shapes run to completion, and what a customer
earned."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from loyalty.clock import utcnow
from loyalty.models import Customer, EarningHistoryEntry, EarningRule, RuleCategory, Shop
from standins.webhook_examples import example
from tests.factories import create_rule, create_shop
from tests.shopify_webhooks import deliver, run_jobs
from web.state import Services

DOMAIN = "earn-shop.myshopify.com"
CONSENT_TOPIC = "customers_email_marketing_consent/update"


async def webhook_shop(**fields: Any) -> Shop:
    return await create_shop(domain=DOMAIN, **fields)


async def rule(
    shop: Shop, category: RuleCategory, *, made: datetime | None = None, **fields: Any
) -> EarningRule:
    """An active rule of `category`, made at `made` (now when not given)."""
    action = {RuleCategory.SIGNUP: "create_account", RuleCategory.NEWSLETTER: "newsletter_signup"}
    created = await create_rule(
        shop, category=category, action=action.get(category, str(category)), **fields
    )
    if made is not None:
        await EarningRule.filter(id=created.id).update(created_at=made)
        await created.refresh_from_db()
    return created


def iso(moment: datetime) -> str:
    return moment.isoformat()


def later(seconds: float = 1) -> str:
    """A Shopify time just after now (so after a rule made now)."""
    return iso(utcnow() + timedelta(seconds=seconds))


async def send(
    client: httpx.AsyncClient, services: Services, topic: str, body: dict[str, Any]
) -> None:
    """Deliver one signed body to its route and run the jobs, as Shopify and the worker would."""
    response = await deliver(client, topic, body, shop=DOMAIN)
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    await run_jobs(services)


def consent_payload(
    customer_id: int,
    state: str | None,
    *,
    updated_at: str | None,
    email: str | None = "ann@example.com",
    opt_in_level: str | None = "single_opt_in",
) -> dict[str, Any]:
    """A customers_email_marketing_consent/update body: Shopify's example with these values."""
    body = example(CONSENT_TOPIC)
    body.update(customer_id=customer_id, email_address=email)
    body["email_marketing_consent"] = {
        "state": state,
        "opt_in_level": opt_in_level,
        "consent_updated_at": updated_at,
    }
    return body


async def entries_of(shopify_customer_id: int) -> list[EarningHistoryEntry]:
    customer = await Customer.get_or_none(shopify_customer_id=shopify_customer_id)
    if customer is None:
        return []
    return list(await EarningHistoryEntry.filter(customer_id=customer.id).order_by("id"))


async def customer(shopify_customer_id: int) -> Customer:
    return await Customer.get(shopify_customer_id=shopify_customer_id)
