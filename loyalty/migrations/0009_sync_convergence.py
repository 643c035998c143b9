from tortoise import migrations
from tortoise.migrations import operations as ops
from loyalty.models.outbox import DeliveryStatus, IntentOutcome
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0008_customer_tag_versions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EventDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.BigIntField()),
                ('platform', fields.CharField(max_length=16)),
                ('event_key', fields.CharField(max_length=200)),
                ('intent_id', fields.BigIntField()),
                ('status', fields.CharEnumField(description='ACCEPTED: accepted\nUNCONFIRMED: unconfirmed', enum_type=DeliveryStatus, max_length=16)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'event_delivery', 'app': 'loyalty', 'unique_together': (('shop_id', 'platform', 'event_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncLease',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.CharField(max_length=64)),
                ('shop_id', fields.BigIntField()),
                ('customer_key', fields.BigIntField()),
                ('holder', fields.CharField(max_length=32)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_lease', 'app': 'loyalty', 'unique_together': (('job', 'shop_id', 'customer_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OutboxIntent',
            name='claimed_by',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='OutboxIntent',
            name='dead_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='OutboxIntent',
            name='outcome',
            field=fields.CharEnumField(null=True, description='DELIVERED: delivered\nSKIPPED: skipped\nDEAD: dead', enum_type=IntentOutcome, max_length=16),
        ),
        ops.AddField(
            model_name='OutboxIntent',
            name='outcome_detail',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='OutboxIntent',
            name='retry_from',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]


# Hand-written below this line: the partial indexes (valid on PostgreSQL and SQLite alike).
# A run leases a shop's customers that have pending intents of one kind and claims those
# customers' intents: (job, shop_id, customer_id) replaces 0005's (job, shop_id, id), so the
# number of indexes each award's intents maintain stays the same. Dead letters are few and
# listed per shop.
CREATE = [
    'CREATE INDEX "idx_intent_pending_customer" ON "outbox_intent" ("job", "shop_id", "customer_id") '
    "WHERE completed_at IS NULL",
    'DROP INDEX IF EXISTS "idx_intent_pending"',
    'CREATE INDEX "idx_intent_dead" ON "outbox_intent" ("shop_id", "dead_at") '
    "WHERE dead_at IS NOT NULL",
]
DROP = [
    'DROP INDEX IF EXISTS "idx_intent_dead"',
    'CREATE INDEX "idx_intent_pending" ON "outbox_intent" ("job", "shop_id", "id") '
    "WHERE completed_at IS NULL",
    'DROP INDEX IF EXISTS "idx_intent_pending_customer"',
]


async def create_indexes(apps, schema_editor):
    for statement in CREATE:
        await schema_editor.client.execute_script(statement)


async def drop_indexes(apps, schema_editor):
    for statement in DROP:
        await schema_editor.client.execute_script(statement)


Migration.operations.append(ops.RunPython(create_indexes, drop_indexes))
