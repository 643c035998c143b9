from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from loyalty.models.earning_rule import RuleCategory
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class AlterChoicesState(ops.AlterField):
    """The category enum gained `custom`: the column (VARCHAR(16)) already holds it, so only
    the migration state changes. (Tortoise would rebuild the SQLite table to alter a field.)"""

    async def database_forward(self, *args, **kwargs):
        return None

    async def database_backward(self, *args, **kwargs):
        return None


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0005_lean_hot_tables')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='idempotency_records', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=255)),
                ('fingerprint', fields.CharField(max_length=64)),
                ('response_status', fields.IntField(null=True)),
                ('response_body', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'idempotency_record', 'app': 'loyalty', 'unique_together': (('shop', 'key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Customer',
            name='expiring_soon_notified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='EarningHistoryEntry',
            name='metadata',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='EarningHistoryEntry',
            name='points_remaining',
            field=fields.IntField(default=0),
        ),
        AlterChoicesState(
            model_name='EarningRule',
            name='category',
            field=fields.CharEnumField(description='PURCHASE: purchase\nSOCIAL: social\nENGAGEMENT: engagement\nBIRTHDAY: birthday\nANNIVERSARY: anniversary\nSIGNUP: signup\nREFERRAL: referral\nCUSTOM: custom', enum_type=RuleCategory, max_length=16),
        ),
        ops.AddField(
            model_name='EarningRule',
            name='action_key',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='EarningRule',
            name='limit_count',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='EarningRule',
            name='limit_period_days',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='EarningRule',
            name='repeatable',
            field=fields.BooleanField(default=False),
        ),
        ops.AddConstraint(
            model_name='EarningRule',
            constraint=UniqueConstraint(fields=('shop', 'action_key'), name=None),
        ),
    ]
