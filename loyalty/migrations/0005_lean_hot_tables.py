from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class AlterConstraintState(ops.AlterField):
    """Records db_constraint=False in the migration state only. The database side is the
    RunPython below: PostgreSQL drops the constraints; SQLite keeps its keys, because Tortoise
    rebuilds a SQLite table to alter a field and the rebuild loses unique_together."""

    async def database_forward(self, *args, **kwargs):
        return None

    async def database_backward(self, *args, **kwargs):
        return None


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0004_customer_backfill')]

    initial = False

    operations = [
        AlterConstraintState(
            model_name='Activity',
            name='customer',
            field=fields.ForeignKeyField('loyalty.Customer', source_field='customer_id', null=True, db_constraint=False, to_field='id', related_name='activities', on_delete=OnDelete.CASCADE),
        ),
        AlterConstraintState(
            model_name='Activity',
            name='shop',
            field=fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=False, to_field='id', related_name='activities', on_delete=OnDelete.CASCADE),
        ),
        ops.RemoveIndex(
            model_name='EarningHistoryEntry',
            name=None,
            fields=['status', 'points_due_at'],
        ),
        ops.RemoveIndex(
            model_name='EarningHistoryEntry',
            name=None,
            fields=['customer_id', 'created_at'],
        ),
        ops.RemoveIndex(
            model_name='EarningHistoryEntry',
            name=None,
            fields=['shop_id', 'order_id'],
        ),
        AlterConstraintState(
            model_name='EarningHistoryEntry',
            name='customer',
            field=fields.ForeignKeyField('loyalty.Customer', source_field='customer_id', db_constraint=False, to_field='id', related_name='earning_history', on_delete=OnDelete.CASCADE),
        ),
        AlterConstraintState(
            model_name='EarningHistoryEntry',
            name='rule',
            field=fields.ForeignKeyField('loyalty.EarningRule', source_field='rule_id', null=True, db_constraint=False, to_field='id', related_name='awards', on_delete=OnDelete.RESTRICT),
        ),
        AlterConstraintState(
            model_name='EarningHistoryEntry',
            name='shop',
            field=fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=False, to_field='id', related_name='earning_history', on_delete=OnDelete.CASCADE),
        ),
        ops.RemoveIndex(
            model_name='OutboxIntent',
            name=None,
            fields=['job', 'shop_id', 'completed_at'],
        ),
        ops.RemoveIndex(
            model_name='OutboxIntent',
            name=None,
            fields=['completed_at', 'created_at'],
        ),
        AlterConstraintState(
            model_name='OutboxIntent',
            name='customer',
            field=fields.ForeignKeyField('loyalty.Customer', source_field='customer_id', null=True, db_constraint=False, to_field='id', related_name='intents', on_delete=OnDelete.CASCADE),
        ),
        AlterConstraintState(
            model_name='OutboxIntent',
            name='shop',
            field=fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=False, to_field='id', related_name='intents', on_delete=OnDelete.CASCADE),
        ),
    ]


# Hand-written below this line: partial indexes (valid on PostgreSQL and SQLite alike), and for
# PostgreSQL the foreign keys the models now declare with db_constraint=False (Tortoise's
# AlterField does not drop them) and a fillfactor. Models cannot express these.
HOT_FOREIGN_KEYS = [
    ("earning_history_entry", "shop_id"),
    ("earning_history_entry", "customer_id"),
    ("earning_history_entry", "rule_id"),
    ("activity", "shop_id"),
    ("activity", "customer_id"),
    ("outbox_intent", "shop_id"),
    ("outbox_intent", "customer_id"),
]
PARTIAL_INDEXES = [
    # Approvals: the entries still pending, by due time.
    'CREATE INDEX "idx_entry_pending_due" ON "earning_history_entry" ("points_due_at") '
    "WHERE status = 'pending'",
    # Refunds and cancellations: the entries an order earned.
    'CREATE INDEX "idx_entry_order" ON "earning_history_entry" ("shop_id", "order_id") '
    'WHERE order_id IS NOT NULL',
    # Jobs claim a shop's pending intents of one kind, oldest first.
    'CREATE INDEX "idx_intent_pending" ON "outbox_intent" ("job", "shop_id", "id") '
    'WHERE completed_at IS NULL',
    # The sweep looks for pending intents older than a grace period.
    'CREATE INDEX "idx_intent_pending_age" ON "outbox_intent" ("created_at") '
    'WHERE completed_at IS NULL',
]
DROP_PARTIAL_INDEXES = [
    'DROP INDEX IF EXISTS "idx_entry_pending_due"',
    'DROP INDEX IF EXISTS "idx_entry_order"',
    'DROP INDEX IF EXISTS "idx_intent_pending"',
    'DROP INDEX IF EXISTS "idx_intent_pending_age"',
]


async def create_partial_indexes(apps, schema_editor):
    for statement in PARTIAL_INDEXES:
        await schema_editor.client.execute_script(statement)
    if schema_editor.client.capabilities.dialect == "postgres":
        # Every award rewrites its customer's row; room on the page lets PostgreSQL update it in
        # place (a HOT update) instead of adding an entry to each of the table's indexes.
        await schema_editor.client.execute_script('ALTER TABLE "customer" SET (fillfactor = 80)')
        # SQLite keeps its foreign keys: there a check is an index probe in C, not a trigger.
        for table, column in HOT_FOREIGN_KEYS:
            await schema_editor.client.execute_script(
                f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{table}_{column}_fkey"'
            )


async def drop_partial_indexes(apps, schema_editor):
    for statement in DROP_PARTIAL_INDEXES:
        await schema_editor.client.execute_script(statement)
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script('ALTER TABLE "customer" RESET (fillfactor)')


Migration.operations.append(ops.RunPython(create_partial_indexes, drop_partial_indexes))
