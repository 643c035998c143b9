"""Job names, declared once. Each name is the name of its function in loyalty.jobs (the registry
maps one to the other); the web side and the outbox enqueue by name and never import the jobs
themselves, so this module imports nothing of the services."""

from __future__ import annotations

from enum import StrEnum

from loyalty.models import Platform


class JobName(StrEnum):
    # Intent-processing jobs: each takes `shop_id` and works through that shop's pending intents
    # of its own kind, so a burst of changes becomes one job per shop and kind.
    SYNC_SHOPIFY_METAFIELDS = "sync_shopify_metafields"
    SYNC_KLAVIYO_PROFILES = "sync_klaviyo_profiles"
    SYNC_OMNISEND_CONTACTS = "sync_omnisend_contacts"
    SYNC_POSTSCRIPT_SUBSCRIBERS = "sync_postscript_subscribers"
    # Shopify Flow triggers (points earned, tier changed, reward redeemed, referral completed)
    # from the customer intents that carry them (loyalty.sync.flow_triggers).
    SEND_FLOW_TRIGGERS = "send_flow_triggers"
    # Shop-level intents (customer_id NULL), written when the merchant edits rules, tiers or
    # programme settings: rewrite the shop's programme metafield for the theme extension.
    SYNC_SHOP_METAFIELDS = "sync_shop_metafields"
    # Shop-level intents (customer_id NULL), written when the merchant creates or edits a VIP
    # tier: re-place every customer of the shop on the tiers (loyalty.tiers.placement).
    PLACE_VIP_TIERS = "place_vip_tiers"
    # Takes `shop_id`: handle that shop's stored Shopify webhook deliveries, in received order.
    PROCESS_WEBHOOKS = "process_webhooks"
    # Takes `shop_id`: at install, bring in the shop's existing Shopify customers.
    BACKFILL_CUSTOMERS = "backfill_customers"
    # Periodic: re-dispatch intents that are still undelivered (Redis was down, a worker died),
    # and re-queue webhook deliveries stored but never handled.
    SWEEP_OUTBOX = "sweep_outbox"
    # The points lifecycle, each taking `shop_id` and safe to run at any time or twice: approve
    # pending points now due, expire lots now past their date (and send "expiring soon"
    # notices), award today's birthdays and anniversaries in the shop's timezone.
    APPROVE_POINTS = "approve_points"
    EXPIRE_POINTS = "expire_points"
    AWARD_OCCASIONS = "award_occasions"
    # Rewards. Takes `shop_id`: create (or deactivate, or debit) the shop's redemptions' codes
    # and store credit in Shopify, from their intents (loyalty.rewards.codes).
    SYNC_REWARD_CODES = "sync_reward_codes"
    # Periodic: active reward codes past their `expires_at` become expired, in every shop.
    EXPIRE_REWARD_CODES = "expire_reward_codes"
    # Referrals. Takes `shop_id`: create the friends' reward codes in Shopify, from their
    # intents (loyalty.referrals.friend_codes).
    SYNC_REFERRAL_CODES = "sync_referral_codes"
    # Periodic: pending referrals past their `expires_at` become expired, in every shop.
    EXPIRE_REFERRALS = "expire_referrals"
    # Periodic: fold the customer-count change rows of every shop that has gathered many
    # (loyalty.reports.customer_counts), whether or not anyone opens its admin.
    FOLD_CUSTOMER_COUNTS = "fold_customer_counts"
    # Periodic: find shops owed lifecycle work and queue the jobs above, deferred to the
    # moment each becomes due (loyalty.lifecycle.schedule).
    SCHEDULE_APPROVALS = "schedule_approvals"
    SCHEDULE_EXPIRY = "schedule_expiry"
    SCHEDULE_OCCASIONS = "schedule_occasions"


PROFILE_SYNC_JOBS: dict[Platform, JobName] = {
    Platform.KLAVIYO: JobName.SYNC_KLAVIYO_PROFILES,
    Platform.OMNISEND: JobName.SYNC_OMNISEND_CONTACTS,
    Platform.POSTSCRIPT: JobName.SYNC_POSTSCRIPT_SUBSCRIBERS,
}

# Every customer change owes these: the metafields always, the platforms the shop has enabled.
CUSTOMER_SYNC_JOBS: tuple[JobName, ...] = (
    JobName.SYNC_SHOPIFY_METAFIELDS,
    *PROFILE_SYNC_JOBS.values(),
)
