"""Shops seeded by `loyalty demo` are marked, so the local demo acts for them and no other."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('loyalty', '0012_unconfirmed_events_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Shop',
            name='is_demo',
            field=fields.BooleanField(default=False),
        ),
    ]
