from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0002_shopify_platform")]

    initial = False

    operations = [
        ops.AddField(
            model_name="EarningHistoryEntry",
            name="order_subtotal",
            field=fields.DecimalField(null=True, max_digits=18, decimal_places=4),
        ),
        ops.AddField(
            model_name="Shop",
            name="webhooks_leased_until",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name="WebhookEvent",
            index=Index(fields=["shop_id", "processed_at"]),
        ),
    ]
