"""Rewards: what customers spend their points on, and every redemption's life.

The core's entry points (plain values in, plain values out; the public API, the storefront
proxy and the admin call these and nothing below them):

- `catalogue`: a reward's fields validated (one rule for every surface), created, updated,
  activated, deleted (only when never redeemed), looked up and listed;
- `eligibility`: the tier and per-customer-limit rules, and `offers_for`: each active reward
  as one customer sees it (redeemable now, or how many points they still need);
- `redeem`: `redeem(...)` spends a customer's points on a reward in one transaction (the
  debit, the redemption with its code, the code intent, the customer syncs), or refuses with a
  stable error code and writes nothing;
- `codes`: the job's work: each pending redemption's discount code (or store credit) created
  in Shopify exactly once; a permanent refusal cancels the redemption and returns the points;
- `cancel`: the merchant cancels an active, unused redemption (the discount deactivated or the
  store credit debited through an intent; the points return);
- `usage`: orders/paid marks a redemption used by its code; a cancelled or fully refunded
  order gives the customer a new code when the shop says so;
- `expiry`: active codes past `expires_at` expire (points back only if the shop says so);
- `refunds`: giving a redemption's points back, exactly once (the one home of that rule);
- `history`: a customer's redemptions, filtered and paged;
- `views`: a redemption as every surface shows it; `spec`: the discount Shopify is asked for;
  `store_credit`: the credit and its debit, safe to retry though Shopify has no key for them.

Balances, lots and activity rows are written by loyalty.ledger only.
"""
