"""A partial index on the events recorded unconfirmed, for the admin and the metric that count them."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0011_failed_webhooks_index')]

    initial = False

    operations = []


# Hand-written: the admin (per shop and platform) and the metric loyalty_events_unconfirmed
# (loyalty.metrics) count events recorded unconfirmed; a partial index keeps those counts the
# size of the unconfirmed events, not of every event ever accepted. Valid on PostgreSQL and
# SQLite alike.
CREATE = [
    'CREATE INDEX "idx_event_delivery_unconfirmed" ON "event_delivery" ("shop_id", "platform") '
    "WHERE status = 'unconfirmed'",
]
DROP = ['DROP INDEX IF EXISTS "idx_event_delivery_unconfirmed"']


async def create_indexes(apps, schema_editor):
    for statement in CREATE:
        await schema_editor.client.execute_script(statement)


async def drop_indexes(apps, schema_editor):
    for statement in DROP:
        await schema_editor.client.execute_script(statement)


Migration.operations.append(ops.RunPython(create_indexes, drop_indexes))
