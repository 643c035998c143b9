"""A signed webhook body is stored once, whatever its topic.

The unique key on `webhook_event` moves from (topic, body_sha256) to body_sha256 alone: the HMAC
covers the body and not `X-Shopify-Topic`, so a body replayed under another topic must be a
repeat (see loyalty.webhooks.inbox). Rows stored before this migration may already hold one body
under two topics; the later ones forget their digest first (their topic's work is done or
recorded either way), so the new constraint can be built.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Portable SQL (SQLite and PostgreSQL): keep the digest on the first row that stored it.
FORGET_LATER_COPIES = """
UPDATE webhook_event SET body_sha256 = NULL
WHERE body_sha256 IS NOT NULL AND id > (
    SELECT MIN(first.id) FROM webhook_event AS first WHERE first.body_sha256 = webhook_event.body_sha256
)
"""


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0009_sync_convergence')]

    initial = False

    operations = [
        ops.RemoveConstraint(
            model_name='WebhookEvent',
            name=None,
            fields=['topic', 'body_sha256'],
        ),
        ops.RunSQL(FORGET_LATER_COPIES, reverse_sql=""),
        ops.AlterField(
            model_name='WebhookEvent',
            name='body_sha256',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
    ]
