"""Referrals (issue 17, item 3): the per-shop referral programme, each member's code, each referral
and the phone/address fingerprints the fraud rules compare."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from loyalty.models.referral import BlockReason, FingerprintKind, ReferralStatus
from loyalty.models.reward import CodeStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0015_signup_and_newsletter')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Referral',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=32)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='referrals', on_delete=OnDelete.CASCADE)),
                ('advocate', fields.ForeignKeyField('loyalty.Customer', source_field='advocate_id', db_constraint=True, to_field='id', related_name='referrals_made', on_delete=OnDelete.CASCADE)),
                ('friend_email', fields.CharField(max_length=255)),
                ('friend_email_key', fields.CharField(max_length=255)),
                ('friend_customer', fields.ForeignKeyField('loyalty.Customer', source_field='friend_customer_id', null=True, db_constraint=True, to_field='id', related_name='referrals_received', on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharEnumField(default=ReferralStatus.PENDING, description='PENDING: pending\nFRIEND_CONVERTED: friend_converted\nCOMPLETED: completed\nBLOCKED: blocked\nEXPIRED: expired\nREVERSED: reversed', enum_type=ReferralStatus, max_length=16)),
                ('block_reason', fields.CharEnumField(null=True, description='SAME_EMAIL: same_email\nSAME_CUSTOMER: same_customer\nSAME_PHONE: same_phone\nSAME_ADDRESS: same_address\nFRIEND_NOT_NEW: friend_not_new\nIP_LIMIT: ip_limit\nDEVICE_LIMIT: device_limit\nADVOCATE_ORDER: advocate_order', enum_type=BlockReason, max_length=16)),
                ('ip', fields.CharField(null=True, max_length=64)),
                ('device_id', fields.CharField(null=True, max_length=128)),
                ('friend_reward', fields.ForeignKeyField('loyalty.Reward', source_field='friend_reward_id', null=True, db_constraint=True, to_field='id', related_name='referrals', on_delete=OnDelete.SET_NULL)),
                ('friend_code', fields.CharField(null=True, max_length=64)),
                ('friend_code_status', fields.CharEnumField(null=True, description='PENDING: pending\nCREATED: created\nFAILED: failed', enum_type=CodeStatus, max_length=16)),
                ('friend_discount_gid', fields.CharField(null=True, max_length=128)),
                ('friend_code_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('order_id', fields.BigIntField(null=True)),
                ('order_number', fields.CharField(null=True, max_length=32)),
                ('order_subtotal', fields.DecimalField(null=True, max_digits=18, decimal_places=4)),
                ('refunds', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('advocate_entry_id', fields.CharField(null=True, max_length=40)),
                ('advocate_redemption_id', fields.CharField(null=True, max_length=32)),
                ('approved_by', fields.CharField(null=True, max_length=255)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('converted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reversed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral', 'app': 'loyalty', 'unique_together': (('shop', 'friend_email_key'),), 'indexes': [Index(fields=['shop_id', 'advocate_id', 'created_at']), Index(fields=['shop_id', 'ip', 'created_at']), Index(fields=['shop_id', 'device_id', 'created_at']), Index(fields=['shop_id', 'order_id']), Index(fields=['shop_id', 'friend_code']), Index(fields=['status', 'expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop', fields.ForeignKeyField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='referral_codes', on_delete=OnDelete.CASCADE)),
                ('customer', fields.OneToOneField('loyalty.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='referral_code', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'referral_code', 'app': 'loyalty', 'unique_together': (('shop', 'code'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralFingerprint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop_id', fields.BigIntField()),
                ('customer_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='PHONE: phone\nADDRESS: address', enum_type=FingerprintKind, max_length=8)),
                ('digest', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_fingerprint', 'app': 'loyalty', 'unique_together': (('shop_id', 'customer_id', 'kind', 'digest'),), 'indexes': [Index(fields=['shop_id', 'kind', 'digest'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralProgramme',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shop', fields.OneToOneField('loyalty.Shop', source_field='shop_id', db_constraint=True, to_field='id', related_name='referral_programme', on_delete=OnDelete.CASCADE)),
                ('enabled', fields.BooleanField(default=False)),
                ('friend_reward', fields.ForeignKeyField('loyalty.Reward', source_field='friend_reward_id', null=True, db_constraint=True, to_field='id', related_name='friend_referral_programmes', on_delete=OnDelete.SET_NULL)),
                ('advocate_reward', fields.ForeignKeyField('loyalty.Reward', source_field='advocate_reward_id', null=True, db_constraint=True, to_field='id', related_name='advocate_referral_programmes', on_delete=OnDelete.SET_NULL)),
                ('disabled_checks', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('max_per_ip', fields.IntField(default=3)),
                ('max_per_device', fields.IntField(default=3)),
                ('window_hours', fields.IntField(default=24)),
                ('pending_days', fields.IntField(default=30)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'referral_programme', 'app': 'loyalty', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

