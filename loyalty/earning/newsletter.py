"""Newsletter points: the shop's active `newsletter` rule, awarded once per customer when their
email marketing consent becomes `subscribed` after the rule existed.

Since Admin API 2025-01 customer bodies carry no `email_marketing_consent`: Shopify sends each
change of it as `customers_email_marketing_consent/update` (`customer_id`, `email_address`,
`email_marketing_consent` with `state`, `opt_in_level`, `consent_updated_at`), and that is what
this reads (loyalty.webhooks.customers).

- Awards when the state is `subscribed` and the consent was given (`consent_updated_at`, or the
  time the event is handled when Shopify leaves it null) at or after the rule's creation: a
  subscription older than the rule, delivered late, earns nothing. `pending` (double opt-in not
  yet confirmed), `not_subscribed`, `unsubscribed`, `redacted` and `invalid` earn nothing.
- Once per customer, ever: the entry's dedupe key is `newsletter`, unique per customer
  (loyalty.earning.grants), so unsubscribing and subscribing again, a repeat, or a second
  newsletter rule never pays twice.
- Never to an excluded customer, nor in a shop whose programme is off. Points × tier
  multiplier, approval time and expiry as any rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.earning.grants import active_rule, grant
from loyalty.models import RuleCategory, Shop

DEDUPE_KEY = "newsletter"
SUBSCRIBED = "subscribed"


@dataclass(frozen=True, slots=True)
class EmailConsent:
    """A customer's email marketing consent as Shopify states it."""

    state: str | None  # subscribed, pending, not_subscribed, unsubscribed, redacted, invalid
    updated_at: datetime | None  # consent_updated_at: when it was given or withdrawn


async def award_newsletter(
    *, shop: Shop, customer_id: int, consent: EmailConsent, now: datetime
) -> list[str]:
    """Award the newsletter rule if this consent is a subscription made while the rule
    existed; the customer-sync jobs owed (none when nothing was awarded). Runs in the
    caller's transaction."""
    if consent.state != SUBSCRIBED or not shop.programme_enabled:
        return []
    rule = await active_rule(shop.id, RuleCategory.NEWSLETTER)
    if rule is None or (consent.updated_at or now) < rule.created_at:
        return []
    jobs = await grant(
        shop=shop, rule=rule, customer_id=customer_id, dedupe_key=DEDUPE_KEY, now=now
    )
    return jobs or []
