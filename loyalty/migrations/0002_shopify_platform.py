from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DataRequest',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='data_requests', on_delete=OnDelete.CASCADE)),
                ('shopify_request_id', fields.BigIntField(null=True)),
                ('shopify_customer_id', fields.BigIntField(null=True)),
                ('email', fields.CharField(null=True, max_length=255)),
                ('record', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'data_request', 'app': 'loyalty', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook_id', fields.CharField(unique=True, max_length=64)),
                ('event_id', fields.CharField(null=True, max_length=64)),
                ('topic', fields.CharField(max_length=64)),
                ('shop_domain', fields.CharField(max_length=255)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', null=True, db_constraint=True, to_field='id', related_name='webhook_events', on_delete=OnDelete.CASCADE)),
                ('api_version', fields.CharField(default='', max_length=16)),
                ('triggered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'webhook_event', 'app': 'loyalty', 'indexes': [Index(fields=['processed_at', 'received_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Customer',
            name='excluded_by',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Customer',
            name='redacted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='EarningHistoryEntry',
            name='order_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='EarningHistoryEntry',
            name='order_number',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='EarningHistoryEntry',
            name='reversed_entry',
            field=fields.ForeignKeyField('loyalty.EarningHistoryEntry', source_field='reversed_entry_id', null=True, db_constraint=True, to_field='id', related_name='reversals', on_delete=OnDelete.CASCADE),
        ),
        ops.AddIndex(
            model_name='EarningHistoryEntry',
            index=Index(fields=['shop_id', 'order_id']),
        ),
        ops.AddField(
            model_name='Shop',
            name='reauth_required_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Shop',
            name='shopify_shop_id',
            field=fields.BigIntField(null=True),
        ),
    ]
