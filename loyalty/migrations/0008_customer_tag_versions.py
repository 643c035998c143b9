from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0007_webhook_body_replay')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Customer',
            name='tag_versions',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
