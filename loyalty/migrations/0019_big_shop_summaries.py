"""Summaries for a big shop's admin pages and lists (issue 18): the ledger's 15-minute sums for
the 30-day figures, and the customer counts, each kept exact by triggers.

**The ledger rollup** (loyalty.models.ledger_rollup, loyalty.reports.ledger_rollup): two small
tables, and triggers that keep the sums exact when an entry already summed changes afterwards.

The triggers fire only on an UPDATE that changes what an entry adds to a sum (its status to or
from `rejected`, its points, action or time) and on a DELETE, and only for entries of the last
35 days (older buckets are never read from the rollup). The award's INSERT fires nothing, and
an approval (`pending` → `approved`) or an expiry's `points_remaining` does not either.

Each trigger adds the old row's negated sums and the new row's sums to their buckets, when the
shop has a rollup, the entry is at or below its watermark and the bucket is one it holds. On
PostgreSQL it reads the shop's state row `FOR SHARE`, so it waits for a refresh that is moving
the watermark (which holds that row) and then sees the watermark that refresh set.

**The customer counts** (loyalty.models.customer_count, loyalty.reports.customer_counts): a
row of changes inserted for every customer inserted or deleted (on PostgreSQL one row per
statement and kind, from its transition table, so an import of thousands adds a few rows) and
for an UPDATE that changes `is_excluded`, whether `redacted_at` is set, or `redeemed_points`
(a redemption, its refund). The award's UPDATE sets none of these columns: PostgreSQL and
SQLite fire an `UPDATE OF` trigger only for a statement that sets one of them. The table is
filled from the customers already there in the same transaction that creates the triggers
(which lock the table against writes until it commits), so no change falls between.

**An index on redemption (shop_id, redeemed_at)**: the home page's redemptions of the window.
Built in this transaction (not concurrently): the redemption table is a small one, written
only when a customer redeems.
"""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

_RECENT_SECONDS = 35 * 86400
_ISSUED = "(CASE WHEN {r}.points > 0 AND {r}.status <> 'rejected' THEN {r}.points ELSE 0 END)"
_EXPIRED = "(CASE WHEN {r}.action = 'points_expired' THEN -{r}.points ELSE 0 END)"
_CHANGED = (
    "((OLD.status = 'rejected') <> (NEW.status = 'rejected') OR OLD.points <> NEW.points "
    "OR OLD.action <> NEW.action OR OLD.created_at <> NEW.created_at)"
)
_BUCKET = {
    "postgres": "FLOOR(EXTRACT(EPOCH FROM {r}.created_at) / 900)::bigint",
    "sqlite": "CAST(strftime('%s', substr({r}.created_at, 1, 19)) AS INTEGER) / 900",
}
_RECENT = {
    "postgres": "{r}.created_at >= now() - interval '35 days'",
    "sqlite": (
        "CAST(strftime('%s', substr({r}.created_at, 1, 19)) AS INTEGER) >= "
        f"CAST(strftime('%s', 'now') AS INTEGER) - {_RECENT_SECONDS}"
    ),
}


def _move(dialect: str, row: str, sign: str) -> str:
    """Add `row`'s sums (negated with sign '-') to its bucket, if the rollup holds it."""
    lock = " FOR SHARE OF s" if dialect == "postgres" else ""
    table = "ledger_rollup." if dialect == "postgres" else ""
    return (
        "INSERT INTO ledger_rollup (shop_id, bucket, issued, expired) "
        f"SELECT {row}.shop_id, b.bucket, {sign}{_ISSUED.format(r=row)}, "
        f"{sign}{_EXPIRED.format(r=row)} "
        f"FROM (SELECT {_BUCKET[dialect].format(r=row)} AS bucket) b "
        f"JOIN ledger_rollup_state s ON s.shop_id = {row}.shop_id "
        f"WHERE {row}.id <= s.watermark AND b.bucket >= s.since_bucket{lock} "
        "ON CONFLICT (shop_id, bucket) DO UPDATE SET "
        f"issued = {table}issued + excluded.issued, expired = {table}expired + excluded.expired;"
    )


def trigger_statements(dialect: str) -> list[str]:
    recent_old, recent_new = (_RECENT[dialect].format(r=r) for r in ("OLD", "NEW"))
    on_update = (
        "AFTER UPDATE OF status, points, action, created_at ON earning_history_entry "
        f"FOR EACH ROW WHEN (({recent_old} OR {recent_new}) AND {_CHANGED})"
    )
    on_delete = f"AFTER DELETE ON earning_history_entry FOR EACH ROW WHEN ({recent_old})"
    if dialect == "postgres":
        return [
            "CREATE OR REPLACE FUNCTION ledger_rollup_move() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"{_move(dialect, 'OLD', '-')} "
            f"IF TG_OP = 'UPDATE' THEN {_move(dialect, 'NEW', '')} END IF; "
            "RETURN NULL; END $$",
            f"CREATE TRIGGER ledger_rollup_on_update {on_update} "
            "EXECUTE FUNCTION ledger_rollup_move()",
            f"CREATE TRIGGER ledger_rollup_on_delete {on_delete} "
            "EXECUTE FUNCTION ledger_rollup_move()",
        ]
    return [
        f"CREATE TRIGGER ledger_rollup_on_update {on_update} BEGIN "
        f"{_move(dialect, 'OLD', '-')} {_move(dialect, 'NEW', '')} END",
        f"CREATE TRIGGER ledger_rollup_on_delete {on_delete} BEGIN "
        f"{_move(dialect, 'OLD', '-')} END",
    ]


_COUNT_COLUMNS = "shop_id, is_excluded, redacted, customers, redeemed"
_COUNT_CHANGED = (
    "(OLD.is_excluded <> NEW.is_excluded "
    "OR (OLD.redacted_at IS NULL) <> (NEW.redacted_at IS NULL) "
    "OR OLD.redeemed_points <> NEW.redeemed_points)"
)


def _count_row(row: str, sign: str) -> str:
    return (
        f"INSERT INTO customer_count ({_COUNT_COLUMNS}) VALUES ({row}.shop_id, "
        f"{row}.is_excluded, {row}.redacted_at IS NOT NULL, {sign}1, {sign}{row}.redeemed_points);"
    )


def _count_rows(table: str, sign: str) -> str:
    return (
        f"INSERT INTO customer_count ({_COUNT_COLUMNS}) SELECT shop_id, is_excluded, "
        f"redacted_at IS NOT NULL, {sign}COUNT(*), {sign}COALESCE(SUM(redeemed_points), 0) "
        f"FROM {table} GROUP BY 1, 2, 3;"
    )


def count_trigger_statements(dialect: str) -> list[str]:
    on_update = (
        "AFTER UPDATE OF is_excluded, redacted_at, redeemed_points ON customer "
        f"FOR EACH ROW WHEN {_COUNT_CHANGED}"
    )
    if dialect == "postgres":
        return [
            "CREATE OR REPLACE FUNCTION customer_count_added() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_count_rows('added', '')} RETURN NULL; END $$",
            "CREATE OR REPLACE FUNCTION customer_count_removed() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_count_rows('removed', '-')} RETURN NULL; END $$",
            "CREATE OR REPLACE FUNCTION customer_count_moved() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_count_row('OLD', '-')} {_count_row('NEW', '')} "
            "RETURN NULL; END $$",
            "CREATE TRIGGER customer_count_on_insert AFTER INSERT ON customer "
            "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
            "EXECUTE FUNCTION customer_count_added()",
            "CREATE TRIGGER customer_count_on_delete AFTER DELETE ON customer "
            "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
            "EXECUTE FUNCTION customer_count_removed()",
            f"CREATE TRIGGER customer_count_on_update {on_update} "
            "EXECUTE FUNCTION customer_count_moved()",
        ]
    return [
        "CREATE TRIGGER customer_count_on_insert AFTER INSERT ON customer FOR EACH ROW "
        f"BEGIN {_count_row('NEW', '')} END",
        "CREATE TRIGGER customer_count_on_delete AFTER DELETE ON customer FOR EACH ROW "
        f"BEGIN {_count_row('OLD', '-')} END",
        f"CREATE TRIGGER customer_count_on_update {on_update} "
        f"BEGIN {_count_row('OLD', '-')} {_count_row('NEW', '')} END",
    ]


_TRIGGERS = {
    "earning_history_entry": ("ledger_rollup_on_update", "ledger_rollup_on_delete"),
    "customer": (
        "customer_count_on_insert",
        "customer_count_on_delete",
        "customer_count_on_update",
    ),
}
_FUNCTIONS = (
    "ledger_rollup_move",
    "customer_count_added",
    "customer_count_removed",
    "customer_count_moved",
)


async def create_triggers(apps, schema_editor):
    client = schema_editor.client
    dialect = "postgres" if client.capabilities.dialect == "postgres" else "sqlite"
    for statement in trigger_statements(dialect) + count_trigger_statements(dialect):
        await client.execute_script(statement)
    # The customers already there, after the triggers (in this transaction, which holds the
    # table against writes from CREATE TRIGGER on), so each customer is counted once.
    await client.execute_script(_count_rows("customer", "").rstrip(";"))
    # The home page's redemptions of the last 30 days, without reading the shop's history.
    await client.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_redemption_shop_redeemed" '
        'ON "redemption" ("shop_id", "redeemed_at")'
    )


async def drop_triggers(apps, schema_editor):
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for table, names in _TRIGGERS.items():
        for name in names:
            suffix = f" ON {table}" if postgres else ""
            await client.execute_script(f"DROP TRIGGER IF EXISTS {name}{suffix}")
    if postgres:
        for function in _FUNCTIONS:
            await client.execute_script(f"DROP FUNCTION IF EXISTS {function}()")
    await client.execute_script("DELETE FROM customer_count")
    await client.execute_script('DROP INDEX IF EXISTS "idx_redemption_shop_redeemed"')


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0018_customer_hot_room")]

    initial = False

    operations = [
        ops.CreateModel(
            name="LedgerRollup",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("shop_id", fields.BigIntField()),
                ("bucket", fields.BigIntField()),
                ("issued", fields.BigIntField(default=0)),
                ("expired", fields.BigIntField(default=0)),
            ],
            options={
                "table": "ledger_rollup",
                "app": "loyalty",
                "unique_together": (("shop_id", "bucket"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="LedgerRollupState",
            fields=[
                (
                    "shop_id",
                    fields.BigIntField(
                        generated=False, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("since_bucket", fields.BigIntField()),
                ("watermark", fields.BigIntField()),
                ("candidate", fields.BigIntField(null=True)),
                ("candidate_running", fields.TextField(null=True)),
                ("version", fields.IntField(default=0)),
                (
                    "refreshed_at",
                    fields.DatetimeField(auto_now=False, auto_now_add=False),
                ),
            ],
            options={"table": "ledger_rollup_state", "app": "loyalty", "pk_attr": "shop_id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CustomerCount",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("shop_id", fields.BigIntField()),
                ("is_excluded", fields.BooleanField()),
                ("redacted", fields.BooleanField()),
                ("customers", fields.BigIntField()),
                ("redeemed", fields.BigIntField()),
            ],
            options={
                "table": "customer_count",
                "app": "loyalty",
                "indexes": [Index(fields=["shop_id", "is_excluded", "redacted"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(create_triggers, drop_triggers),
    ]
