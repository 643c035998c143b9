"""The customer counts (migration 0019) also sum `pending_points`, so the admin's home page and
the dashboard stop summing it over every customer (issue 18: a parallel scan of a big shop's
million rows, 660–1,470 ms, was the last statement over 100 ms on those pages); and an index on
redemption (shop_id, reward_id) for the rewards page's redemptions per reward.

**The pending sum.** `customer_count` gets a `pending` column, and the customer table's UPDATE
trigger now watches `pending_points` as well. It fires for a statement that sets one of the
watched columns, and its WHEN clause (evaluated by PostgreSQL without calling the function)
passes only a row whose pending points, exclusion, redaction or redeemed points changed: an
award held for approval, its approval or rejection, a redemption. An approved award sets
`pending_points` to itself, so its row fails the WHEN clause and nothing is written. A change
that keeps the customer's kind (excluded, redacted) writes one row of differences; one that
moves the customer between kinds writes the old row's negation and the new row.

The rows already there are recounted from the customers in this transaction, after the
trigger is replaced (CREATE TRIGGER holds the table against writes until the commit), so no
change falls between. On a million customers that is one scan (seconds).

**redemption (shop_id, reward_id)**: counting a shop's redemptions per reward reads this index
only, not the table. The redemption table is written only when a customer redeems; built in
this transaction.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

_COLUMNS = "shop_id, is_excluded, redacted, customers, redeemed, pending"
_WATCHED = "is_excluded, redacted_at, redeemed_points, pending_points"
_CHANGED = (
    "(OLD.is_excluded <> NEW.is_excluded "
    "OR (OLD.redacted_at IS NULL) <> (NEW.redacted_at IS NULL) "
    "OR OLD.redeemed_points <> NEW.redeemed_points "
    "OR OLD.pending_points <> NEW.pending_points)"
)
_SAME_KIND = (
    "OLD.is_excluded = NEW.is_excluded AND (OLD.redacted_at IS NULL) = (NEW.redacted_at IS NULL)"
)
_DIFFERENCE = (
    f"INSERT INTO customer_count ({_COLUMNS}) SELECT NEW.shop_id, NEW.is_excluded, "
    "NEW.redacted_at IS NOT NULL, 0, NEW.redeemed_points - OLD.redeemed_points, "
    "NEW.pending_points - OLD.pending_points"
)


def _row(row: str, sign: str) -> str:
    return (
        f"INSERT INTO customer_count ({_COLUMNS}) SELECT {row}.shop_id, {row}.is_excluded, "
        f"{row}.redacted_at IS NOT NULL, {sign}1, {sign}{row}.redeemed_points, "
        f"{sign}{row}.pending_points"
    )


def _rows(table: str, sign: str) -> str:
    return (
        f"INSERT INTO customer_count ({_COLUMNS}) SELECT shop_id, is_excluded, "
        f"redacted_at IS NOT NULL, {sign}COUNT(*), {sign}COALESCE(SUM(redeemed_points), 0), "
        f"{sign}COALESCE(SUM(pending_points), 0) FROM {table} GROUP BY 1, 2, 3"
    )


def count_trigger_statements(dialect: str) -> list[str]:
    on_update = f"AFTER UPDATE OF {_WATCHED} ON customer FOR EACH ROW WHEN {_CHANGED}"
    if dialect == "postgres":
        return [
            "CREATE OR REPLACE FUNCTION customer_count_added() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_rows('added', '')}; RETURN NULL; END $$",
            "CREATE OR REPLACE FUNCTION customer_count_removed() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_rows('removed', '-')}; RETURN NULL; END $$",
            "CREATE OR REPLACE FUNCTION customer_count_moved() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN IF {_SAME_KIND} THEN {_DIFFERENCE}; "
            f"ELSE {_row('OLD', '-')}; {_row('NEW', '')}; END IF; RETURN NULL; END $$",
            "DROP TRIGGER IF EXISTS customer_count_on_update ON customer",
            f"CREATE TRIGGER customer_count_on_update {on_update} "
            "EXECUTE FUNCTION customer_count_moved()",
        ]
    return [
        "DROP TRIGGER IF EXISTS customer_count_on_insert",
        "DROP TRIGGER IF EXISTS customer_count_on_delete",
        "DROP TRIGGER IF EXISTS customer_count_on_update",
        "CREATE TRIGGER customer_count_on_insert AFTER INSERT ON customer FOR EACH ROW "
        f"BEGIN {_row('NEW', '')}; END",
        "CREATE TRIGGER customer_count_on_delete AFTER DELETE ON customer FOR EACH ROW "
        f"BEGIN {_row('OLD', '-')}; END",
        f"CREATE TRIGGER customer_count_on_update {on_update} BEGIN "
        f"{_DIFFERENCE} WHERE {_SAME_KIND}; "
        f"{_row('OLD', '-')} WHERE NOT ({_SAME_KIND}); "
        f"{_row('NEW', '')} WHERE NOT ({_SAME_KIND}); END",
    ]


async def _dialect(schema_editor) -> str:
    return "postgres" if schema_editor.client.capabilities.dialect == "postgres" else "sqlite"


async def sum_pending(apps, schema_editor):
    client = schema_editor.client
    for statement in count_trigger_statements(await _dialect(schema_editor)):
        await client.execute_script(statement)
    # Recounted after the trigger (in this transaction, which holds the table against writes
    # from CREATE TRIGGER on), so each customer's pending points are summed once.
    await client.execute_script("DELETE FROM customer_count")
    await client.execute_script(_rows("customer", ""))
    # A handful of rows now: fresh statistics, so reads probe the shop's index at once
    # instead of planning for the rows deleted here until autovacuum comes by.
    await client.execute_script("ANALYZE customer_count")
    await client.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_redemption_shop_reward" '
        'ON "redemption" ("shop_id", "reward_id")'
    )


async def sum_no_pending(apps, schema_editor):
    # 0019's triggers again; the column goes with the RemoveField that reverses AddField.
    from importlib import import_module

    previous = import_module("loyalty.migrations.0019_big_shop_summaries")
    client = schema_editor.client
    dialect = await _dialect(schema_editor)
    suffix = " ON customer" if dialect == "postgres" else ""
    for kind in ("insert", "delete", "update"):
        await client.execute_script(f"DROP TRIGGER IF EXISTS customer_count_on_{kind}{suffix}")
    for statement in previous.count_trigger_statements(dialect):
        await client.execute_script(statement)
    await client.execute_script('DROP INDEX IF EXISTS "idx_redemption_shop_reward"')


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0019_big_shop_summaries")]

    initial = False

    operations = [
        ops.AddField(
            model_name="CustomerCount",
            name="pending",
            field=fields.BigIntField(default=0, db_default=0),  # the rows already there
        ),
        ops.RunPython(sum_pending, sum_no_pending),
    ]
