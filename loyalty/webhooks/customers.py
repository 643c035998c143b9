"""customers/create, customers/update, customer.tags_added, customer.tags_removed and
customers_email_marketing_consent/update: keep the programme's copy of the customer, their tags
and exclusion by the shop's tag current; award sign-up points for a customer body
(loyalty.earning.signup) and newsletter points for a subscription (loyalty.earning.newsletter).

Idempotent by content: for a customer body the newest `updated_at` wins and an unchanged
customer writes nothing (see `loyalty.customers.mirror`); for a tag event the newest
`occurredAt` per tag wins, so a repeat or an older event changes nothing (see
`loyalty.customers.tags`); sign-up and newsletter points are once per customer by their
entries' dedupe keys.
"""

from __future__ import annotations

from loyalty.customers.mirror import mirror_customer
from loyalty.customers.tags import TagEvent, apply_tag_event
from loyalty.earning.newsletter import award_newsletter
from loyalty.earning.signup import award_signup
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import (
    CustomerCreatePayload,
    CustomerEmailConsentPayload,
    CustomerTagsPayload,
)


async def handle_customer(ctx: WebhookContext) -> list[str]:
    record = ctx.body_as(CustomerCreatePayload).record()
    result = await mirror_customer(shop=ctx.shop, record=record, now=ctx.now, source=ctx.topic)
    signup = await award_signup(shop=ctx.shop, customer_id=result.customer_id, now=ctx.now)
    return sorted({*result.jobs, *signup})


async def handle_email_consent(ctx: WebhookContext) -> list[str]:
    # A consent event may come before the customer's own body: create them from it (an id and
    # the email), as an order's customer object does; their body fills in the rest.
    payload = ctx.body_as(CustomerEmailConsentPayload)
    mirrored = await mirror_customer(
        shop=ctx.shop, record=payload.record(), now=ctx.now, source=ctx.topic, create_only=True
    )
    awarded = await award_newsletter(
        shop=ctx.shop, customer_id=mirrored.customer_id, consent=payload.consent(), now=ctx.now
    )
    return sorted({*mirrored.jobs, *awarded})


async def handle_tags_added(ctx: WebhookContext) -> list[str]:
    return await _handle_tags(ctx, added=True)


async def handle_tags_removed(ctx: WebhookContext) -> list[str]:
    return await _handle_tags(ctx, added=False)


async def _handle_tags(ctx: WebhookContext, *, added: bool) -> list[str]:
    # Ordered by the body's own `occurredAt` only: X-Shopify-Triggered-At is not signed.
    payload = ctx.body_as(CustomerTagsPayload)
    event = TagEvent(
        shopify_customer_id=payload.customer_id,
        tags=tuple(payload.tags),
        added=added,
        occurred_at=payload.when(),
    )
    result = await apply_tag_event(shop=ctx.shop, event=event, now=ctx.now, source=ctx.topic)
    return result.jobs
