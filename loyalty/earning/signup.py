"""Sign-up points: the shop's active `signup` rule, awarded once per customer who created their
account after the rule existed.

When:
- At sign-up: when Shopify tells us about the customer in a customer body (customers/create,
  or customers/update). New customer accounts create the Shopify customer at the first
  sign-in, which sends customers/create like any other new customer. Either topic counts
  because the decision rests on the body (Shopify's `created_at`), not on the unsigned topic
  header: Shopify may send create and update with the very same bytes, and a body is handled
  once whatever its topic (the README, "How a webhook's topic is bound to its body"), so the
  create may be the one dropped.
- With the rule's "only after their first paid order" (`after_first_order`): nothing at
  sign-up; the points come with the customer's first paid order (orders/paid) handled while
  the rule is active, so an account made only to collect points earns nothing.

Never for:
- a customer Shopify created (`created_at`) before the rule was, or whose creation time we do
  not know;
- a customer the install-time backfill imported (`backfilled_at`): they existed before the app;
- an excluded customer, a shop whose programme is off, or when no sign-up rule is active.

Exactly once per customer, whatever the rule (a new sign-up rule never pays anyone twice): the
entry's dedupe key is `signup`, unique per customer (loyalty.earning.grants), so 20 concurrent
deliveries for one customer, or a repeat, award once. Points × tier multiplier, approval time
and expiry as any rule.
"""

from __future__ import annotations

from datetime import datetime

from loyalty.earning.grants import active_rule, grant
from loyalty.models import Customer, RuleCategory, Shop

DEDUPE_KEY = "signup"


async def award_signup(
    *, shop: Shop, customer_id: int, now: datetime, at_first_order: bool = False
) -> list[str]:
    """Award the sign-up rule to the customer if they qualify; the customer-sync jobs owed
    (none when nothing was awarded). `at_first_order`: called for a paid order (only a rule
    that waits for the first order awards then); otherwise for a customer body (only a rule
    that does not wait awards then). Runs in the caller's transaction."""
    if not shop.programme_enabled:
        return []
    rule = await active_rule(shop.id, RuleCategory.SIGNUP)
    if rule is None or rule.after_first_order != at_first_order:
        return []
    customer = await Customer.get_or_none(id=customer_id, shop_id=shop.id).only(
        "id", "backfilled_at", "shopify_created_at"
    )
    if customer is None or customer.backfilled_at is not None:
        return []
    created = customer.shopify_created_at
    if created is None or created < rule.created_at:
        return []
    jobs = await grant(
        shop=shop, rule=rule, customer_id=customer_id, dedupe_key=DEDUPE_KEY, now=now
    )
    return jobs or []
