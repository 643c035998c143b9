"""A big shop stays fast (bench/scale: 1 M customers, 10 M ledger entries): the indexes the
admin's pages, the public API's lists and the daily jobs need, and none that slows the award.

- customer (shop_id, created_at, id): the customer lists, newest (or oldest) first, without
  sorting a shop's million rows; `created_at` never changes, so awards keep their HOT updates.
- customer (shop_id, redeemed_points, id): `sort=redeemed_points`; only a redemption moves it.
- customer, PostgreSQL only, trigram GIN indexes (pg_trgm) on the exact expressions the ORM
  searches with: the admin's search (email, first and last name, case-insensitive substring)
  and the public API's `filter[email]` (part of the email key). None of these columns changes
  in an award either.
- earning_history_entry (customer_id, created_at, id): a customer's history page (and the
  admin's latest 20) read in order, at any page, instead of sorting all their entries.
- earning_history_entry (rule_id): whether a rule was ever awarded (the rules page) without
  reading the whole ledger.
- earning_history_entry, partial on open lots (approved, points left, by expiry): the expiry
  sweep, the "expiring soon" notices and their scheduler find what falls due in a range scan,
  and a customer's next expiry is one index probe.

Not indexed on purpose: customer points_balance and lifetime_points (the public API's
`sort=points` / `sort=lifetime_points`). Every award moves both; an index on either would turn
each award's in-place (HOT) update into one that writes every index of the table (migration
0005 set the table's fillfactor for exactly that). See bench/README.md for the figures.

On PostgreSQL each index is built with CREATE INDEX CONCURRENTLY, outside any transaction, so a
big shop keeps taking awards while it builds (minutes on 10 M entries; see the README's upgrade
notes). A concurrent build that fails leaves an INVALID index behind: `IF NOT EXISTS` would keep
it, so each one is dropped first when invalid and the migration can simply be run again.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# name, table, columns or expression, WHERE (None: a full index), method
INDEXES = [
    ("idx_customer_created", "customer", '("shop_id", "created_at", "id")', None, None),
    ("idx_customer_redeemed", "customer", '("shop_id", "redeemed_points", "id")', None, None),
    (
        "idx_entry_customer_created",
        "earning_history_entry",
        '("customer_id", "created_at", "id")',
        None,
        None,
    ),
    ("idx_entry_rule", "earning_history_entry", '("rule_id")', None, None),
    (
        "idx_entry_open_lot_expiry",
        "earning_history_entry",
        '("points_expiry_at")',
        "status = 'approved' AND points_remaining > 0",
        None,
    ),
    (
        "idx_entry_open_lot_customer",
        "earning_history_entry",
        '("customer_id", "points_expiry_at")',
        "status = 'approved' AND points_remaining > 0",
        None,
    ),
]
# PostgreSQL only: trigram indexes on the expressions the ORM's `icontains` / `contains` send.
TRIGRAM_INDEXES = [
    ("idx_customer_email_trgm", "customer", '(UPPER(CAST("email" AS VARCHAR)) gin_trgm_ops)'),
    ("idx_customer_first_trgm", "customer", '(UPPER(CAST("first_name" AS VARCHAR)) gin_trgm_ops)'),
    ("idx_customer_last_trgm", "customer", '(UPPER(CAST("last_name" AS VARCHAR)) gin_trgm_ops)'),
    ("idx_customer_email_key_trgm", "customer", '(CAST("email_key" AS VARCHAR) gin_trgm_ops)'),
]


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0015_signup_and_newsletter")]

    initial = False

    # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    atomic = False

    operations = []


async def _drop_if_invalid(client, name):
    rows = await client.execute_query_dict(
        "SELECT 1 AS invalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = $1 AND NOT i.indisvalid",
        [name],
    )
    if rows:
        await client.execute_script(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


async def create_indexes(apps, schema_editor):
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    statements = []
    for name, table, columns, where, _method in INDEXES:
        concurrently = "CONCURRENTLY " if postgres else ""
        condition = f" WHERE {where}" if where else ""
        statements.append(
            (
                name,
                f'CREATE INDEX {concurrently}IF NOT EXISTS "{name}" ON "{table}" {columns}'
                f"{condition}",
            )
        )
    if postgres:
        await client.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, expression in TRIGRAM_INDEXES:
            statements.append(
                (
                    name,
                    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" '
                    f"USING gin {expression}",
                )
            )
    for name, statement in statements:
        if postgres:
            await _drop_if_invalid(client, name)
        await client.execute_script(statement)
    if postgres:
        # Statistics on the new expressions (a sample, seconds), so the planner sees how
        # selective a search is from the first request, not after autovacuum's next ANALYZE.
        await client.execute_script('ANALYZE "customer"')


async def drop_indexes(apps, schema_editor):
    client = schema_editor.client
    concurrently = "CONCURRENTLY " if client.capabilities.dialect == "postgres" else ""
    names = [name for name, *_ in INDEXES]
    if client.capabilities.dialect == "postgres":
        names += [name for name, *_ in TRIGRAM_INDEXES]
    for name in names:
        await client.execute_script(f'DROP INDEX {concurrently}IF EXISTS "{name}"')


Migration.operations.append(ops.RunPython(create_indexes, drop_indexes))
