"""Room on each customer page for every row on it to be updated in place at least once (PostgreSQL
only): fillfactor 50, up from migration 0005's 80.

Every award rewrites its customer's row (balance, lifetime points, tier, updated_at). None of
those columns is indexed, so the update is HOT (no index touched) as long as the new version
fits on the row's page. At 80 a page keeps room for about a quarter of its rows' new versions;
the room comes back only when PostgreSQL prunes the old versions, and pruning waits for every
snapshot older than them to end: a pg_dump, a long export or report, or on a shared server
another database's long transaction. Meanwhile every award past that quarter is a non-HOT
update that adds an entry to each of the table's nine indexes, four of them the trigram GIN
indexes of migration 0017 (a few dozen keys each). bench/award, which awards customers in the
order they were created (as an import or a campaign does), showed 26 % of the award's updates
HOT at 80; see bench/README.md for the figures at 50.

The cost is space: the heap (not its indexes) takes about 1.6 times the pages it took at 80.
Only pages written from now on are filled to 50 %; an existing table gets the room as its
rows move (or at once with a rewrite such as pg_repack, never inside this migration: a
rewrite locks the table).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FILLFACTOR = 50


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0017_big_shop")]

    initial = False

    operations = []


async def more_room(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            f'ALTER TABLE "customer" SET (fillfactor = {FILLFACTOR})'
        )


async def less_room(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script('ALTER TABLE "customer" SET (fillfactor = 80)')


Migration.operations.append(ops.RunPython(more_room, less_room))
