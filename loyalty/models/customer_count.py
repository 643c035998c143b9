"""A shop's customer counts, redeemed and pending points, as rows of changes: how many
customers, in or out of the programme, redacted or not, the points they redeemed and the
points they have waiting for approval. Their sum is the live aggregate over `customer`; the
admin's home page and the customer lists read it instead of counting or summing a big shop's
million rows (loyalty.reports.customer_counts).

Rows are only ever inserted by the customer table's triggers (migrations 0019, 0020), so
concurrent writers never wait on one another; a reader folds a shop's rows into one per kind
now and then. An approved award's UPDATE changes none of the columns the triggers watch and
writes nothing; an award held for approval (and its approval) writes one row.
No foreign key: the shop's erasure deletes these rows explicitly.
"""

from tortoise import fields
from tortoise.models import Model


class CustomerCount(Model):
    id = fields.BigIntField(primary_key=True)
    shop_id = fields.BigIntField()
    is_excluded = fields.BooleanField()
    redacted = fields.BooleanField()
    customers = fields.BigIntField()  # a change of the count (+1, -1, or a folded sum)
    redeemed = fields.BigIntField()  # a change of the sum of `redeemed_points`
    pending = fields.BigIntField(default=0, db_default=0)  # a change of SUM(pending_points)

    class Meta:
        table = "customer_count"
        indexes = (("shop_id", "is_excluded", "redacted"),)
