"""Rewards and redemptions (issue 16); the shop's currency (store credit is given in it) and its two
settings for redeemed codes: a new code after a cancelled or fully refunded order, and the
points back when a code expires unused (both off)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from loyalty.models.reward import CodeStatus, RedemptionStatus, RewardKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0013_demo_shops')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Reward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=32)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=255)),
                ('description', fields.TextField(default='', unique=False)),
                ('kind', fields.CharEnumField(description='FIXED_AMOUNT: fixed_amount\nPERCENTAGE: percentage\nFREE_SHIPPING: free_shipping\nFREE_PRODUCT: free_product\nSTORE_CREDIT: store_credit', enum_type=RewardKind, max_length=16)),
                ('points_cost', fields.IntField()),
                ('is_variable', fields.BooleanField(default=False)),
                ('min_points', fields.IntField(null=True)),
                ('max_points', fields.IntField(null=True)),
                ('value_per_point', fields.DecimalField(null=True, max_digits=12, decimal_places=4)),
                ('value', fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ('free_variant_gid', fields.CharField(null=True, max_length=128)),
                ('minimum_subtotal', fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ('collection_gids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('product_gids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('combines_with_order', fields.BooleanField(default=False)),
                ('combines_with_product', fields.BooleanField(default=False)),
                ('combines_with_shipping', fields.BooleanField(default=False)),
                ('code_validity_days', fields.IntField(null=True)),
                ('minimum_tier', fields.ForeignKeyField('loyalty.VipTier', source_field='minimum_tier_id', null=True, db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.SET_NULL)),
                ('per_customer_limit', fields.IntField(null=True)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'reward', 'app': 'loyalty', 'indexes': [Index(fields=['shop_id', 'is_active'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Redemption',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=32)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('loyalty.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.CASCADE)),
                ('reward', fields.ForeignKeyField('loyalty.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='FIXED_AMOUNT: fixed_amount\nPERCENTAGE: percentage\nFREE_SHIPPING: free_shipping\nFREE_PRODUCT: free_product\nSTORE_CREDIT: store_credit', enum_type=RewardKind, max_length=16)),
                ('points_spent', fields.IntField()),
                ('value', fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ('currency_code', fields.CharField(null=True, max_length=3)),
                ('code', fields.CharField(null=True, max_length=64)),
                ('status', fields.CharEnumField(default=RedemptionStatus.ACTIVE, description='ACTIVE: active\nUSED: used\nEXPIRED: expired\nCANCELLED: cancelled', enum_type=RedemptionStatus, max_length=16)),
                ('shopify_status', fields.CharEnumField(default=CodeStatus.PENDING, description='PENDING: pending\nCREATED: created\nFAILED: failed', enum_type=CodeStatus, max_length=16)),
                ('shopify_discount_gid', fields.CharField(null=True, max_length=128)),
                ('store_credit_transaction_gid', fields.CharField(null=True, max_length=128)),
                ('store_credit_debit_gid', fields.CharField(null=True, max_length=128)),
                ('credit_attempted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('debit_attempted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('spent_lots', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('points_refunded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('redeemed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_order_id', fields.BigIntField(null=True)),
                ('used_order_subtotal', fields.DecimalField(null=True, max_digits=18, decimal_places=4)),
                ('cancel_reason', fields.CharField(null=True, max_length=255)),
                ('idempotency_key', fields.CharField(null=True, max_length=255)),
                ('metadata', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'redemption', 'app': 'loyalty', 'unique_together': (('shop', 'code'), ('shop', 'idempotency_key')), 'indexes': [Index(fields=['customer_id', 'reward_id']), Index(fields=['status', 'expires_at']), Index(fields=['shop_id', 'used_order_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Shop',
            name='currency_code',
            field=fields.CharField(default='USD', max_length=3),
        ),
        ops.AddField(
            model_name='Shop',
            name='reactivate_codes_on_refund',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Shop',
            name='refund_points_on_code_expiry',
            field=fields.BooleanField(default=False),
        ),
    ]

