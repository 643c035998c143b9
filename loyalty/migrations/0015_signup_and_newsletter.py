"""Sign-up and newsletter points: the `newsletter` category, a sign-up rule's "only after their
first paid order" setting, and the mark on customers the install-time backfill imported (they
never earn sign-up points).

Depends on 0013 on this branch; once 0014_rewards is merged before it, it depends on that.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from loyalty.models.earning_rule import RuleCategory


class AlterChoicesState(ops.AlterField):
    """The category enum gained `newsletter`: the column (VARCHAR(16)) already holds it, so
    only the migration state changes. (Tortoise would rebuild the SQLite table to alter a
    field.)"""

    async def database_forward(self, *args, **kwargs):
        return None

    async def database_backward(self, *args, **kwargs):
        return None


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0014_rewards')]

    initial = False

    operations = [
        AlterChoicesState(
            model_name='EarningRule',
            name='category',
            field=fields.CharEnumField(description='PURCHASE: purchase\nSOCIAL: social\nENGAGEMENT: engagement\nBIRTHDAY: birthday\nANNIVERSARY: anniversary\nSIGNUP: signup\nREFERRAL: referral\nCUSTOM: custom\nNEWSLETTER: newsletter', enum_type=RuleCategory, max_length=16),
        ),
        ops.AddField(
            model_name='EarningRule',
            name='after_first_order',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Customer',
            name='backfilled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
