from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0003_webhooks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Shop',
            name='backfill_completed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Shop',
            name='backfill_customers',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Shop',
            name='backfill_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Shop',
            name='backfill_started_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
