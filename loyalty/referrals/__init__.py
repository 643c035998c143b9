"""Referrals: each member's code and link, a friend arriving through it, the advocate paid on the
friend's first paid order, and the fraud rules that block the rest. The core's entry points
(plain values in and out; the storefront proxy, the public API, the admin and the webhook
handlers call these and nothing below them). Errors carry stable codes (loyalty.referrals.errors):

- `codes.code_for(*, shop_id, customer_id) -> str | None` and `codes.codes_for(*, shop_id,
  customer_ids) -> dict[int, str]`: each member's code (8 characters of A-Z/2-9 without 0 O 1 I,
  upper case, unique per shop, made on first use and kept; None / left out for another shop's
  customer); `codes.links_for(*, shop_id, shop_domain, customer_ids) -> {id: (code, url)}`;
  `codes.referral_url(shop_domain, code) -> str`: `https://<shop domain>/apps/loyalty/r/<CODE>`
  (the app-proxy landing, /proxy/r/<CODE> in the app); `codes.normalize_code(raw) -> str |
  None`; `codes.find_advocate(*, shop_id, code) -> int | None`: the customer id, any case.
  (They live in loyalty.customers.referral_codes, so the syncs below this package can use them.)
- `programme.get_programme(*, shop_id) -> ProgrammeView` and `programme.update_programme(*,
  shop_id, changes: ProgrammeChanges) -> ProgrammeView`: enabled, the friend's reward (a public
  `reward_…` id; store credit refused), the advocate's optional reward, the fraud rules
  switched off (`disabled_checks`), the IP/device limits per window and the days a pending
  referral lives. Errors: `reward_not_found` (404), `invalid_referral_settings` (422).
  The advocate's points are the shop's active `referral` earning rule (points × tier
  multiplier, approval time), as any rule.
- `start.start_referral(*, shop, code, friend_email, ip, device_id, now) -> StartedReferral`
  (`referral: ReferralView`, `created: bool`, `jobs: list[str]` to notify after commit): what
  the friend's landing calls when they give their email. Records a `pending` referral and owes
  the friend's reward code (a Shopify discount made by the `sync_referral_codes` job, open to
  any buyer, single use), or a `blocked` one with its `block_reason` (no code). Idempotent per
  (shop, friend email normalised): a repeat returns the first referral, `created` False.
  Errors: `referral_code_not_found` (404), `referrals_disabled` (422), `invalid_email` (422).
- `conversion.on_order_paid(*, shop, order: ReferralOrder, now) -> list[str]` (orders/paid;
  `ReferralOrder(order_id, order_number, subtotal, email, shopify_customer_id,
  customer_created_at, orders_count, discount_codes, phones, addresses)`):
  the friend's FIRST paid order (matched by the friend's code among the order's discount codes,
  or the friend's email) checks the order-time fraud rules, then `friend_converted` and the
  advocate paid once (entry dedupe key `referral:<id>`), `completed`; every paid order also
  records its buyer's phone/address fingerprints. `reversal.on_order_undone(*, shop, order_id,
  refund_id, refunded_subtotal, cancelled, now) -> list[str]` (orders/cancelled, refunds/create):
  a cancelled or fully refunded converting order takes the advocate's points back, `reversed`.
- `approve.approve_referral(*, shop_id, referral_id, staff, now) -> ApprovedReferral`
  (`referral: ReferralView`, `jobs`; `staff`: who approved, a name or id string): a merchant
  approves a `blocked` referral: it becomes `pending` with the friend's code owed, or, when the
  friend already placed their first order, is paid at once (`completed`). Errors:
  `referral_not_found` (404), `referral_not_blocked` (409).
- `expiry.expire_referrals(*, now) -> int`: pending referrals past `expires_at` become `expired`
  (the `expire_referrals` periodic job).
- `history.list_referrals(*, shop_id, identifier=None, status=None, sort=NEWEST_FIRST,
  window=Window()) -> Paged[ReferralView]`: the shop's referrals, or one advocate's
  (`identifier`: Shopify id or email; `customer_not_found`, 404); sortable by `created_at`,
  `updated_at`, `status` (`REFERRAL_SORTS`). `views.ReferralView` is the one shape shown.

- `friend_codes.sync(deps, shop_id)`: the `sync_referral_codes` job's work (see the module).

Events: "referral_sent" (the advocate's friend started a referral) and "referral_completed"
(the advocate was paid) go to Klaviyo, Omnisend and Postscript through the customer-sync
intents (loyalty.sync.referral_events). Activity rows on the advocate: `referral_started`,
`referral_converted`, `referral_completed`, `referral_approved`, `referral_reversed`,
`referral_code_refused`. The code and link are also in the customer metafield `$app.referral`
(json) and the shop metafield's `referral_program`. Balances, entries and activity rows are
written by loyalty.ledger and loyalty.earning only.
"""
