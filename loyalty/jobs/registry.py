"""The one registry of background jobs: `JOBS` maps each `JobName` to its function, and says
which jobs are queued per shop (`SHOP_JOBS`) and which run on a clock (`PERIODIC_JOBS`).

Every job has one calling convention, whatever runs it: `await job(deps, queue, **kwargs)`,
`deps` the process's `JobDeps` and `queue` the `JobQueue` it hands follow-ups to; shop jobs
take `shop_id`, periodic ones nothing more. The arq worker (workers/jobs.py) and the embedded
default (loyalty.jobs.in_process) both build from this module, and a test holds them, and each
function's name, to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loyalty.jobs import lifecycle, referrals, reports, rewards, sync, tiers, webhooks
from loyalty.jobs.names import JobName
from loyalty.settings import Settings

JobFunction = Callable[..., Awaitable[int]]

JOBS: dict[JobName, JobFunction] = {
    JobName.SYNC_SHOPIFY_METAFIELDS: sync.sync_shopify_metafields,
    JobName.SYNC_KLAVIYO_PROFILES: sync.sync_klaviyo_profiles,
    JobName.SYNC_OMNISEND_CONTACTS: sync.sync_omnisend_contacts,
    JobName.SYNC_POSTSCRIPT_SUBSCRIBERS: sync.sync_postscript_subscribers,
    JobName.SEND_FLOW_TRIGGERS: sync.send_flow_triggers,
    JobName.SYNC_SHOP_METAFIELDS: sync.sync_shop_metafields,
    JobName.PLACE_VIP_TIERS: tiers.place_vip_tiers,
    JobName.PROCESS_WEBHOOKS: webhooks.process_webhooks,
    JobName.BACKFILL_CUSTOMERS: sync.backfill_customers,
    JobName.SWEEP_OUTBOX: sync.sweep_outbox,
    JobName.APPROVE_POINTS: lifecycle.approve_points,
    JobName.EXPIRE_POINTS: lifecycle.expire_points,
    JobName.AWARD_OCCASIONS: lifecycle.award_occasions,
    JobName.SCHEDULE_APPROVALS: lifecycle.schedule_approvals,
    JobName.SCHEDULE_EXPIRY: lifecycle.schedule_expiry,
    JobName.SCHEDULE_OCCASIONS: lifecycle.schedule_occasions,
    JobName.SYNC_REWARD_CODES: rewards.sync_reward_codes,
    JobName.EXPIRE_REWARD_CODES: rewards.expire_reward_codes,
    JobName.SYNC_REFERRAL_CODES: referrals.sync_referral_codes,
    JobName.EXPIRE_REFERRALS: referrals.expire_referrals,
    JobName.FOLD_CUSTOMER_COUNTS: reports.fold_customer_counts,
}


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: JobName
    interval: Callable[[Settings], float]  # seconds between runs


# Run on a clock: arq crons under a Redis lock in the workers, loyalty.jobs.periodic in the
# embedded default (where the outbox dispatcher does the sweep itself).
PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(JobName.SWEEP_OUTBOX, lambda s: s.outbox_sweep_interval),
    PeriodicJob(JobName.SCHEDULE_APPROVALS, lambda s: s.approvals_interval),
    PeriodicJob(JobName.SCHEDULE_EXPIRY, lambda s: s.expiry_interval),
    PeriodicJob(JobName.SCHEDULE_OCCASIONS, lambda s: s.occasions_interval),
    # Shopify ends each code at its `endsAt` itself; this only brings our status in line.
    PeriodicJob(JobName.EXPIRE_REWARD_CODES, lambda s: s.expiry_interval),
    PeriodicJob(JobName.EXPIRE_REFERRALS, lambda s: s.expiry_interval),
    # A read folds its shop's rows too; this is for the shops whose admin nobody opens.
    PeriodicJob(JobName.FOLD_CUSTOMER_COUNTS, lambda s: s.expiry_interval),
)

# Queued by name with `shop_id`, by the outbox, the schedulers and the jobs' own follow-ups.
SHOP_JOBS: tuple[JobName, ...] = tuple(
    name for name in JOBS if name not in {job.name for job in PERIODIC_JOBS}
)
