"""The ledger's sums per 15-minute bucket, kept so the admin's 30-day figures (points issued and
expired, the daily chart) read a few thousand summary rows instead of the window's ledger.

`LedgerRollupState` says what a shop's rollup holds: the entries with `id <= watermark` whose
bucket is at or after `since_bucket`. Entries after the watermark are added at read time from
an id range (loyalty.reports.ledger_rollup). Rows below the watermark that change afterwards
(a held purchase rejected, an entry deleted) move their bucket's sums through the ledger's
triggers (migration 0019); the award's INSERT writes nothing here.

No foreign keys, like the ledger itself: the shop's erasure deletes these rows explicitly.
"""

from tortoise import fields
from tortoise.models import Model


class LedgerRollup(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id = fields.BigIntField()
    bucket = fields.BigIntField()  # floor(epoch seconds of created_at / 900)
    issued = fields.BigIntField(default=0)  # positive points not rejected
    expired = fields.BigIntField(default=0)  # points taken by expiry entries (positive)

    class Meta:
        table = "ledger_rollup"
        unique_together = (("shop_id", "bucket"),)


class LedgerRollupState(Model):
    shop_id = fields.BigIntField(primary_key=True, generated=False)
    since_bucket = fields.BigIntField()  # the first bucket the rollup holds
    watermark = fields.BigIntField()  # entries with id <= this are in the rollup
    # PostgreSQL: the next watermark, usable once the transactions of this database that were
    # running when it was taken (`candidate_running`, their xids, comma-separated) have ended.
    candidate = fields.BigIntField(null=True)
    candidate_running = fields.TextField(null=True)
    version = fields.IntField(default=0)  # compare-and-set: one refresh at a time
    refreshed_at = fields.DatetimeField()

    class Meta:
        table = "ledger_rollup_state"
