"""The admin's customer search reads one trigram index (issue 18; PostgreSQL only, a no-op on
SQLite): `idx_customer_search_trgm` on email, first and last name joined by newlines, upper-cased,
exactly the expression loyalty.customers.directory searches (SEARCH_TEXT under `icontains`). It
replaces 0017's three per-column ones (`idx_customer_email_trgm`, `_first_trgm`, `_last_trgm`),
which nothing else searched.

Why (bench/scale, 1 M customers, the broad term `olivia.`, 25,000 matches): counting a full
page's matches up to 1,001 was a BitmapOr of three bitmap index scans (10.3 ms of the
statement's 15 ms: every "Olivia" first name is a trigram candidate too) and is one scan of the
joined text now (5.2 ms; the statement 11 ms). Keeping the three old indexes beside it made
things worse, not better: with both forms in one statement the planner multiplied their
selectivities and read all 25,000 matches' rows to sort them (113-268 ms) instead of walking
`idx_customer_created` newest first (0.6 ms). One GIN index instead of three is also less for
each customer insert and each non-HOT update to maintain; none of these columns changes in an
award, so awards keep their HOT updates.

Built with CREATE INDEX CONCURRENTLY outside a transaction, as 0017 does (13 s on the bench's
shop), then the old ones dropped CONCURRENTLY, then `ANALYZE customer` so the planner has the
new expression's statistics from the first search. A failed build leaves an INVALID index,
dropped and built anew when the migration runs again.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

SEARCH_INDEX = "idx_customer_search_trgm"
# Exactly what the ORM sends for `search_text__icontains` (UPPER(CAST(<SEARCH_TEXT> AS
# VARCHAR))); the index only serves a query whose expression is the same.
SEARCH_EXPRESSION = (
    """(UPPER(CAST((COALESCE("email", '') || E'\\n' || "first_name" || E'\\n' """
    """|| "last_name") AS VARCHAR)) gin_trgm_ops)"""
)
# 0017's per-column indexes, dropped here and made again when this migration is reversed.
REPLACED = [
    ("idx_customer_email_trgm", '(UPPER(CAST("email" AS VARCHAR)) gin_trgm_ops)'),
    ("idx_customer_first_trgm", '(UPPER(CAST("first_name" AS VARCHAR)) gin_trgm_ops)'),
    ("idx_customer_last_trgm", '(UPPER(CAST("last_name" AS VARCHAR)) gin_trgm_ops)'),
]


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0020_pending_points_summary")]

    initial = False

    # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    atomic = False

    operations = []


async def _build(client, name: str, expression: str) -> None:
    invalid = await client.execute_query_dict(
        "SELECT 1 AS invalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = $1 AND NOT i.indisvalid",
        [name],
    )
    if invalid:
        await client.execute_script(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    await client.execute_script(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "customer" USING gin {expression}'
    )


async def replace_search_indexes(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await _build(client, SEARCH_INDEX, SEARCH_EXPRESSION)
    for name, _expression in REPLACED:
        await client.execute_script(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    await client.execute_script('ANALYZE "customer"')


async def restore_search_indexes(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for name, expression in REPLACED:
        await _build(client, name, expression)
    await client.execute_script(f'DROP INDEX CONCURRENTLY IF EXISTS "{SEARCH_INDEX}"')
    await client.execute_script('ANALYZE "customer"')


Migration.operations.append(ops.RunPython(replace_search_indexes, restore_search_indexes))
