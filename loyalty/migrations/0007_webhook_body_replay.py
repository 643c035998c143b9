from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('loyalty', '0006_lifecycle_and_actions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='WebhookEvent',
            name='body_sha256',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddConstraint(
            model_name='WebhookEvent',
            constraint=UniqueConstraint(fields=('topic', 'body_sha256'), name=None),
        ),
    ]
