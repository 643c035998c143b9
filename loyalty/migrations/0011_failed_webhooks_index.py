"""A partial index on the webhook deliveries recorded as failed, for the metric that counts them."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0010_webhook_body_once')]

    initial = False

    operations = []


# Hand-written: the metric loyalty_webhooks_failed (loyalty.metrics) counts deliveries recorded
# as failed for good; a partial index keeps that count the size of the failures, not of every
# webhook ever received. Valid on PostgreSQL and SQLite alike.
CREATE = [
    'CREATE INDEX "idx_webhook_failed" ON "webhook_event" ("processed_at") '
    "WHERE last_error IS NOT NULL",
]
DROP = ['DROP INDEX IF EXISTS "idx_webhook_failed"']


async def create_indexes(apps, schema_editor):
    for statement in CREATE:
        await schema_editor.client.execute_script(statement)


async def drop_indexes(apps, schema_editor):
    for statement in DROP:
        await schema_editor.client.execute_script(statement)


Migration.operations.append(ops.RunPython(create_indexes, drop_indexes))
