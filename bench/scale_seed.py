"""A big shop on PostgreSQL, seeded set-based: `seed_big_shop(dsn)` for bench/scale and bench/admin.

One shop with 20 earning rules, 5 VIP tiers, 5 rewards, `customers` customers (default 1 M) and
`entries` earning-history entries (default 10 M) spread over the last two years, plus activity
rows and redemptions. Every big table is filled by one `INSERT … SELECT … FROM
generate_series(…)`, never row by row; the schema is the app's own (`loyalty migrate` on the
database first). The secondary indexes of the big tables are dropped for the load and rebuilt
from their own definitions afterwards (a sorted build instead of 10 M random inserts), so the
database ends exactly as the migrations left it.

Distributions (deterministic: the same sizes give the same database):
- customers: first/last names from 40 each, emails `first.lastN@domain` (5 domains), Shopify
  ids `7000000000000 + 7n`, 60 % with a birthday, 70 % with an anniversary date (the day they
  joined), 1 % excluded, 10 % tagged `vip`, joined evenly over the two years;
- entries: ids grow with `created_at` (as the app appends them); 70 % purchases (an order, a
  subtotal, points = floor(subtotal) × multiplier, 1 % rejected), the rest social, engagement,
  birthday, anniversary, sign-up, newsletter, referral, custom, manual adjustments and
  `points_expired` entries; customers drawn with a skew (older customers earn more) and one
  "whale" (customer 1, `whale_shopify_id`) with ≥ 12 000 entries, so page 500 exists;
- the purchase rule holds points 14 days: the last 14 days of purchases are pending, and those
  made 14–15 days ago are due now (a day of approvals for the sweep);
- points expire after 365 days: lots older than that are spent or expired (remaining 0) except
  those that fell due in the last day (a day of expiry for the sweep); 60 % of younger lots are
  unspent; customers with lots expiring in the next 6 days were sent their notice when the
  first entered the 7-day window (steady state: the notice run owes about a day's worth);
- balances, lifetime points, pending points and the VIP tier are computed from the entries;
- about one activity row per five entries (all of the whale's), and one redemption per fifty
  entries (redeemed points on the customers).

`BENCH_SCALE_KEEP=1` (or `keep=True`): a database already seeded with the same sizes is reused
as is (seeding 10 M rows on 2 cores takes minutes); the API key is kept in a marker table.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHOP_DOMAIN = "bench-scale.myshopify.com"
ID_BASE = 7_000_000_000_000  # customer n has Shopify id ID_BASE + 7n
ORDER_BASE = 5_000_000_000_000
WHALE_ENTRIES = 12_000  # page 500 of 20 needs 10 000
EXPIRY_DAYS = 365
APPROVAL_DAYS = 14
HISTORY_DAYS = 730
MARKER_TABLE = "bench_scale_seed"
BIG_TABLES = ("customer", "earning_history_entry", "activity", "redemption")

TIERS = [  # name, points required, multiplier
    ("Bronze", 0, "1.00"),
    ("Silver", 500, "1.10"),
    ("Gold", 1500, "1.25"),
    ("Platinum", 4000, "1.50"),
    ("Diamond", 10000, "2.00"),
]
# key, name, action, category, points, approval days, action_key
RULES = [
    ("order", "Place an order", "place_order", "purchase", 1, APPROVAL_DAYS, None),
    ("birthday", "Birthday", "birthday", "birthday", 200, 0, None),
    ("anniversary", "Anniversary", "anniversary", "anniversary", 150, 0, None),
    ("signup", "Create an account", "signup", "signup", 100, 0, None),
    ("newsletter", "Join the newsletter", "newsletter", "newsletter", 50, 0, None),
    ("referral", "Refer a friend", "referral", "referral", 250, 0, None),
    ("instagram", "Follow on Instagram", "follow_on_instagram", "social", 50, 0, None),
    ("facebook", "Like on Facebook", "like_on_facebook", "social", 50, 0, None),
    ("tiktok", "Follow on TikTok", "follow_on_tiktok", "social", 50, 0, None),
    ("twitter", "Follow on X", "follow_on_twitter", "social", 30, 0, None),
    ("youtube", "Subscribe on YouTube", "subscribe_on_youtube", "social", 40, 0, None),
    ("pinterest", "Follow on Pinterest", "follow_on_pinterest", "social", 30, 0, None),
    ("review", "Leave a review", "leave_review", "engagement", 75, 7, None),
    ("profile", "Complete your profile", "complete_profile", "engagement", 40, 0, None),
    ("share", "Share a product", "share_product", "engagement", 20, 0, None),
    ("photo", "Post a photo review", "photo_review", "engagement", 100, 0, None),
    ("survey", "Answer a survey", "answer_survey", "engagement", 30, 0, None),
    ("quiz", "Complete the quiz", "quiz_completed", "custom", 20, 0, "quiz_completed"),
    ("event", "Attend an event", "event_attended", "custom", 150, 0, "event_attended"),
    ("app", "Install our app", "app_installed", "custom", 100, 0, "app_installed"),
]
REWARDS = [  # name, kind, points cost, value
    ("$5 off", "fixed_amount", 500, "5.00"),
    ("$10 off", "fixed_amount", 1000, "10.00"),
    ("10% off", "percentage", 800, "10.00"),
    ("Free shipping", "free_shipping", 400, "0.00"),
    ("$25 store credit", "store_credit", 2500, "25.00"),
]
FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia William Amelia Benjamin "
    "Harper Lucas Evelyn Henry Abigail Alexander Emily Jack Ella Daniel Scarlett Michael Grace "
    "Mason Chloe Logan Lily Ethan Aria Jacob Zoe Levi Nora Sebastian Hazel Mateo"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen "
    "Hill Flores"
).split()
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.org")


def _sql_array(values: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _asyncpg_dsn(dsn: str) -> str:
    return dsn.replace("postgres://", "postgresql://", 1)


def _database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def _server_dsn(dsn: str, database: str = "postgres") -> str:
    return urlunsplit(urlsplit(_asyncpg_dsn(dsn))._replace(path="/" + database, query=""))


async def create_database(dsn: str) -> bool:
    """Create the database `dsn` names unless it exists; True when it was created."""
    import asyncpg

    name = _database_name(dsn)
    if not name.replace("_", "").isalnum():
        raise ValueError(f"refusing database name {name!r}")
    conn = await asyncpg.connect(_server_dsn(dsn))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


async def drop_database(dsn: str) -> None:
    import asyncpg

    name = _database_name(dsn)
    if not name.startswith("bench_scale"):
        raise ValueError(f"drop_database drops bench_scale… databases only, not {name!r}")
    conn = await asyncpg.connect(_server_dsn(dsn))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _kept_seed(dsn: str, params: dict[str, int]) -> dict[str, Any] | None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(dsn))
    try:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", MARKER_TABLE):
            return None
        row = await conn.fetchrow(f"SELECT params, result FROM {MARKER_TABLE}")
    finally:
        await conn.close()
    if row is None or json.loads(row["params"]) != params:
        return None
    result: dict[str, Any] = json.loads(row["result"])
    result["reused"] = True
    return result


async def seed_big_shop(
    dsn: str,
    *,
    customers: int = 1_000_000,
    entries: int = 10_000_000,
    keep: bool | None = None,
    secret_key: str | None = None,
) -> dict[str, Any]:
    """Create (if missing), migrate and seed the database `dsn` (a `bench_scale…` database on
    PostgreSQL). Returns the shop's id and domain, an API key (full scope) for `/api/v1`, the
    whale's Shopify id, sample customers to look up, the seed's `now` and its timings.

    `keep` (default: BENCH_SCALE_KEEP=1): reuse a database already seeded with these sizes.
    `secret_key`: the SECRET_KEY of the server that will open the admin; the shop is a demo
    shop connected with a token encrypted under it, so `loyalty serve --demo` on this database
    opens its admin at `/demo/admin?shop=<domain>` (see `admin_bearer` for `/app/api` calls).
    """
    from loyalty.db import migrate

    if keep is None:
        keep = os.environ.get("BENCH_SCALE_KEEP") == "1"
    params = {"customers": int(customers), "entries": int(entries)}
    if customers < 10 or entries < customers:
        raise ValueError("seed at least 10 customers and at least one entry per customer")
    await create_database(dsn)
    if keep and (kept := await _kept_seed(dsn, params)) is not None:
        return kept
    started = time.monotonic()
    await migrate(dsn)
    timings: dict[str, float] = {"migrate": round(time.monotonic() - started, 2)}
    result = await _seed(dsn, params, timings, secret_key)
    result["timings"] = timings
    result["seed_seconds"] = round(time.monotonic() - started, 2)
    await _store_marker(dsn, params, result)
    result["reused"] = False
    return result


async def _store_marker(dsn: str, params: dict[str, int], result: dict[str, Any]) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(dsn))
    try:
        await conn.execute(
            f"DROP TABLE IF EXISTS {MARKER_TABLE}; "
            f"CREATE TABLE {MARKER_TABLE} (params text NOT NULL, result text NOT NULL)"
        )
        await conn.execute(
            f"INSERT INTO {MARKER_TABLE} VALUES ($1, $2)",
            json.dumps(params),
            json.dumps(result),
        )
    finally:
        await conn.close()


async def _seed(
    dsn: str, params: dict[str, int], timings: dict[str, float], secret_key: str | None
) -> dict[str, Any]:
    from loyalty.clock import utcnow
    from loyalty.db import close_db, init_db
    from loyalty.models import ApiKeyScope, Shop
    from loyalty.shops.api_keys import issue_api_key

    await init_db(dsn)
    try:
        if await Shop.filter(domain=SHOP_DOMAIN).exists():
            raise RuntimeError(f"{dsn} already holds {SHOP_DOMAIN}: seed a fresh database")
        now = utcnow()
        shop = await Shop.create(
            domain=SHOP_DOMAIN,
            name="Big Bench Store",
            points_expiry_days=EXPIRY_DAYS,
            installed_at=now,
            is_demo=True,
            created_at=now,
        )
        config = await _configure(shop)
        key = await issue_api_key(shop=shop, name="bench/scale", scope=ApiKeyScope.FULL)
        if secret_key is not None:
            from loyalty.crypto import SecretBox
            from loyalty.shops.demo_mode import connect_demo_shop

            await connect_demo_shop(shop, SecretBox(secret_key))
    finally:
        await close_db()
    await _load(dsn, shop.id, config, params, now, timings)
    return {
        "dsn": dsn,
        "shop_id": shop.id,
        "shop_domain": SHOP_DOMAIN,
        "api_key": key.secret,
        "customers": params["customers"],
        "entries": params["entries"],
        "now": now.isoformat(),
        "whale_shopify_id": str(ID_BASE + 7),
        "sample_shopify_id": str(ID_BASE + 7 * (params["customers"] // 2)),
        "sample_email": _email(params["customers"] // 2),
        "tiers": config["tier_public_ids"],
        "rules": config["rule_public_ids"],
    }


def _email(n: int) -> str:
    first = FIRST_NAMES[(n * 31) % len(FIRST_NAMES)]
    last = LAST_NAMES[(n * 17) % len(LAST_NAMES)]
    return f"{first}.{last}{n}@{DOMAINS[n % len(DOMAINS)]}".lower()


async def _configure(shop: Any) -> dict[str, Any]:
    from decimal import Decimal

    from loyalty.models import EarningRule, Reward, RuleCategory, VipTier
    from loyalty.models.reward import RewardKind

    tiers = []
    for name, required, multiplier in TIERS:
        tiers.append(
            await VipTier.create(
                public_id=f"tier_scale_{name.lower()}",
                shop=shop,
                name=name,
                points_required=required,
                points_multiplier=Decimal(multiplier),
            )
        )
    rules = {}
    for key, name, action, category, points, approval, action_key in RULES:
        rules[key] = await EarningRule.create(
            public_id=f"rule_scale_{key}",
            shop=shop,
            name=name,
            action=action,
            category=RuleCategory(category),
            points=points,
            approval_time_days=approval,
            action_key=action_key,
            repeatable=action_key is not None,
        )
    rewards: list[Reward] = []
    for name, kind, cost, value in REWARDS:
        rewards.append(
            await Reward.create(
                public_id=f"reward_scale_{len(rewards)}",
                shop=shop,
                name=name,
                kind=RewardKind(kind),
                points_cost=cost,
                value=Decimal(value),
                code_validity_days=30,
            )
        )
    return {
        "tiers": [(t.id, t.points_required) for t in tiers],
        "tier_public_ids": [t.public_id for t in tiers],
        "rules": {key: (rule.id, rule.points) for key, rule in rules.items()},
        "rule_public_ids": [rule.public_id for rule in rules.values()],
        "rewards": [(r.id, r.points_cost, str(r.value), str(r.kind)) for r in rewards],
    }


# ----------------------------------------------------------------------------- the big inserts


def _customers_sql(shop_id: int, count: int, entry_tier: int, now_sql: str) -> str:
    first, last, domains = _sql_array(FIRST_NAMES), _sql_array(LAST_NAMES), _sql_array(DOMAINS)
    joined = f"{now_sql} - interval '{HISTORY_DAYS} days' * (1 - (n - 1)::float8 / {count})"
    return f"""
    INSERT INTO customer (
        shop_id, shopify_customer_id, email, email_key, first_name, last_name, tags,
        is_excluded, excluded_by, date_of_birth, anniversary_date, shopify_created_at,
        shopify_updated_at, points_balance, pending_points, lifetime_points, redeemed_points,
        vip_tier_id, created_at, updated_at)
    SELECT {shop_id}, {ID_BASE} + 7 * n, email, email, first_name, last_name,
           CASE WHEN n % 10 = 0 THEN 'vip' ELSE '' END,
           n % 100 = 0, CASE WHEN n % 100 = 0 THEN 'staff' END,
           CASE WHEN n % 5 < 3 THEN DATE '1950-01-01' + ((n * 7919) % 20000)::int END,
           CASE WHEN n % 10 < 7 THEN joined::date END,
           joined, joined, 0, 0, 0, 0, {entry_tier}, joined, joined
    FROM (
        SELECT n, joined, f AS first_name, l AS last_name,
               lower(f || '.' || l || n || '@' || ({domains})[1 + n % 5]) AS email
        FROM (
            SELECT n, {joined} AS joined,
                   ({first})[1 + (n * 31) % {len(FIRST_NAMES)}] AS f,
                   ({last})[1 + (n * 17) % {len(LAST_NAMES)}] AS l
            FROM generate_series(1::bigint, {count}) AS n
        ) AS named
    ) AS s
    """


def _entries_sql(
    shop_id: int, config: dict[str, Any], params: dict[str, int], first_customer: int, now: str
) -> str:
    """One statement: entry m (1…E) at an even step through the two years, kind by m's hash."""
    total, customers = params["entries"], params["customers"]
    rules = config["rules"]
    whale_every = max(total // min(WHALE_ENTRIES, max(total // 10, 1)), 1)
    # A skewed draw (older customers, lower n, earn more), and the whale every whale_every-th.
    pick = (
        f"CASE WHEN m % {whale_every} = 0 THEN 0 ELSE "
        f"LEAST(floor({customers} * power(((m * 2654435761) % 4294967296) "
        f"/ 4294967296.0::float8, 1.6::float8))::bigint, {customers - 1}) END"
    )

    def rule(key: str) -> str:
        return str(rules[key][0])

    social = ", ".join(rule(k) for k in ("instagram", "facebook", "tiktok", "twitter", "youtube"))
    engagement = ", ".join(rule(k) for k in ("review", "profile", "share", "photo", "survey"))
    custom = ", ".join(rule(k) for k in ("quiz", "event", "app"))
    # kind by k = hash % 100: <70 purchase, <80 social, <88 engagement, <92 birthday,
    # <94 anniversary, 94 signup, 95 newsletter, 96 referral, 97 custom, 98 adjustment,
    # 99 expired.
    rule_id = f"""CASE
        WHEN k < 70 THEN {rule("order")}
        WHEN k < 80 THEN (ARRAY[{social}, {rule("pinterest")}])[1 + h % 6]
        WHEN k < 88 THEN (ARRAY[{engagement}])[1 + h % 5]
        WHEN k < 92 THEN {rule("birthday")}
        WHEN k < 94 THEN {rule("anniversary")}
        WHEN k = 94 THEN {rule("signup")}
        WHEN k = 95 THEN {rule("newsletter")}
        WHEN k = 96 THEN {rule("referral")}
        WHEN k = 97 THEN (ARRAY[{custom}])[1 + h % 3]
        END"""
    points_by_rule = " ".join(f"WHEN {rid} THEN {pts}" for rid, pts in rules.values())
    return f"""
    INSERT INTO earning_history_entry (
        public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier,
        points, status, points_given_at, points_due_at, points_expiry_at, dedupe_key, note,
        order_id, order_number, order_subtotal, points_remaining, created_at, updated_at)
    SELECT 'cer_s' || lpad(to_hex(m), 15, '0'), {shop_id}, {first_customer} + c, rule_id,
           action, base, mult, points, status,
           CASE WHEN status = 'approved' THEN created END,
           CASE WHEN status = 'pending' THEN due END,
           CASE WHEN status = 'approved' AND points > 0 THEN created
                + interval '{EXPIRY_DAYS} days' END,
           CASE WHEN k < 70 THEN 'order:' || ({ORDER_BASE} + m) ELSE 'seed:' || m END,
           CASE WHEN k = 98 THEN 'Goodwill adjustment' END,
           CASE WHEN k < 70 THEN {ORDER_BASE} + m END,
           CASE WHEN k < 70 THEN '#' || (1000 + m) END,
           subtotal,
           CASE
               WHEN status <> 'approved' OR points <= 0 THEN 0
               WHEN created < {now} - interval '{EXPIRY_DAYS + 1} days' THEN 0
               WHEN created < {now} - interval '{EXPIRY_DAYS} days' THEN
                    CASE WHEN h % 10 < 7 THEN points ELSE 0 END
               WHEN h % 10 < 6 THEN points ELSE 0
           END,
           created, created
    FROM (
        SELECT m, k, h, c, rule_id, created, subtotal, mult,
               created + interval '1 day' * CASE WHEN k < 70 THEN {APPROVAL_DAYS} ELSE 7 END
                   AS due,
               CASE WHEN k < 70 THEN 'place_order' WHEN k = 98 THEN 'points_adjusted'
                    WHEN k = 99 THEN 'points_expired' ELSE r.action END AS action,
               base, CASE WHEN k >= 98 THEN base ELSE round(base * mult)::int END AS points,
               CASE WHEN k < 70 AND h % 100 = 0 THEN 'rejected'
                    WHEN k < 70 AND created > {now} - interval '{APPROVAL_DAYS} days'
                         - interval '1 day' THEN 'pending'
                    WHEN rule_id = {rule("review")} AND created > {now}
                         - interval '8 days' THEN 'pending'
                    ELSE 'approved' END AS status
        FROM (
            SELECT m, k, h, c, rule_id, created, subtotal, mult,
                   CASE WHEN k < 70 THEN floor(subtotal)::int
                        WHEN k = 98 THEN CASE WHEN h % 4 = 0 THEN -(50 + h % 200)
                                              ELSE 50 + h % 500 END
                        WHEN k = 99 THEN -(20 + h % 300)
                        ELSE CASE rule_id {points_by_rule} END END AS base
            FROM (
                SELECT m, k, h, {pick} AS c, {rule_id} AS rule_id,
                       {now} - interval '{HISTORY_DAYS} days'
                           + interval '{HISTORY_DAYS} days' * ((m - 1)::float8 / {total})
                           AS created,
                       CASE WHEN k < 70 THEN (10 + (h % 19000) / 100.0)::numeric(18, 4) END
                           AS subtotal,
                       (ARRAY[1.00, 1.00, 1.10, 1.25, 1.50])[1 + (h / 7) % 5]::numeric(6, 2)
                           AS mult
                FROM (
                    SELECT m, ((m * 40503) % 65536) % 100 AS k,
                           (m * 2246822519) % 1000003 AS h
                    FROM generate_series(1::bigint, {total}) AS m OFFSET 0
                ) AS hashed OFFSET 0
            ) AS drawn OFFSET 0
        ) AS priced
        LEFT JOIN earning_rule r ON r.id = priced.rule_id OFFSET 0
    ) AS e
    """


def _activity_sql(shop_id: int, whale_id: int) -> str:
    return f"""
    INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
    SELECT {shop_id}, customer_id,
           CASE WHEN action = 'points_expired' THEN 'points_expired' ELSE 'points_awarded' END,
           'system', NULL, jsonb_build_object('entry_id', public_id, 'points', points),
           created_at
    FROM earning_history_entry
    WHERE shop_id = {shop_id} AND (id % 5 = 0 OR customer_id = {whale_id})
    ORDER BY id
    """


def _redemptions_sql(
    shop_id: int, config: dict[str, Any], params: dict[str, int], first: int, now: str
) -> str:
    count = max(params["entries"] // 50, 1)
    customers = params["customers"]
    rewards = config["rewards"]
    ids = ", ".join(str(r[0]) for r in rewards)
    costs = ", ".join(str(r[1]) for r in rewards)
    values = ", ".join(r[2] for r in rewards)
    kinds = ", ".join(f"'{r[3]}'" for r in rewards)
    return f"""
    INSERT INTO redemption (
        public_id, shop_id, customer_id, reward_id, kind, points_spent, value, currency_code,
        code, status, shopify_status, spent_lots, redeemed_at, expires_at, used_at,
        created_at, updated_at)
    SELECT 'cr_s' || lpad(to_hex(r), 15, '0'), {shop_id},
           {first} + (r * 2654435761) % {customers},
           (ARRAY[{ids}])[i], (ARRAY[{kinds}])[i], (ARRAY[{costs}])[i],
           (ARRAY[{values}])[i]::numeric(12, 2), 'USD',
           CASE WHEN i = 5 THEN NULL ELSE 'LOYAL-' || upper(lpad(to_hex(r), 10, '0')) END,
           CASE WHEN at > {now} - interval '30 days' THEN 'active'
                WHEN r % 10 < 7 THEN 'used' ELSE 'expired' END,
           'created', '[]'::jsonb, at, at + interval '30 days',
           CASE WHEN at <= {now} - interval '30 days' AND r % 10 < 7
                THEN at + interval '3 days' END,
           at, at
    FROM (
        SELECT r, 1 + (r * 7) % 5 AS i,
               {now} - interval '{HISTORY_DAYS} days'
                   + interval '{HISTORY_DAYS} days' * ((r - 1)::float8 / {count}) AS at
        FROM generate_series(1::bigint, {count}) AS r
    ) AS s
    """


def _balances_sql(shop_id: int, tiers: list[tuple[int, int]]) -> str:
    tier_case = " ".join(
        f"WHEN t.lifetime >= {required} THEN {tier_id}"
        for tier_id, required in sorted(tiers, key=lambda t: -t[1])
    )
    return f"""
    UPDATE customer c SET
        points_balance = GREATEST(t.remaining, 0), pending_points = t.pending,
        lifetime_points = t.lifetime, redeemed_points = COALESCE(rd.spent, 0),
        vip_tier_id = CASE {tier_case} END
    FROM (
        SELECT customer_id,
               SUM(points_remaining) AS remaining,
               SUM(CASE WHEN status = 'pending' THEN points ELSE 0 END) AS pending,
               SUM(CASE WHEN status = 'approved' AND points > 0 THEN points ELSE 0 END)
                   AS lifetime
        FROM earning_history_entry WHERE shop_id = {shop_id} GROUP BY customer_id
    ) AS t
    LEFT JOIN (
        SELECT customer_id, SUM(points_spent) AS spent FROM redemption
        WHERE shop_id = {shop_id} GROUP BY customer_id
    ) AS rd ON rd.customer_id = t.customer_id
    WHERE c.id = t.customer_id
    """


def _notified_sql(shop_id: int, now: str) -> str:
    """Steady state of the "expiring soon" notices: whoever has points expiring in the next 6
    days was told when their first lot entered the 7-day window, so a run owes only the
    customers entering it since (and those due their weekly reminder)."""
    return f"""
    UPDATE customer c SET expiring_soon_notified_at = s.first_expiry - interval '7 days'
    FROM (
        SELECT customer_id, MIN(points_expiry_at) AS first_expiry FROM earning_history_entry
        WHERE shop_id = {shop_id} AND status = 'approved' AND points_remaining > 0
          AND points_expiry_at > {now} AND points_expiry_at <= {now} + interval '6 days'
        GROUP BY customer_id
    ) AS s
    WHERE c.id = s.customer_id
    """


async def _secondary_indexes(conn: Any, table: str) -> list[tuple[str, str]]:
    """(drop, create) statements for the table's secondary indexes and unique constraints."""
    rows = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS index, pg_get_indexdef(i.indexrelid) AS def,
               con.conname, pg_get_constraintdef(con.oid) AS condef
        FROM pg_index i LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid
             AND con.contype IN ('u', 'p')
        WHERE i.indrelid = $1::regclass AND NOT i.indisprimary
        """,
        table,
    )
    found = []
    for row in rows:
        if row["conname"]:
            found.append(
                (
                    f'ALTER TABLE "{table}" DROP CONSTRAINT "{row["conname"]}"',
                    f'ALTER TABLE "{table}" ADD CONSTRAINT "{row["conname"]}" {row["condef"]}',
                )
            )
        else:
            found.append((f"DROP INDEX {row['index']}", row["def"]))
    return found


async def _load(
    dsn: str,
    shop_id: int,
    config: dict[str, Any],
    params: dict[str, int],
    now: Any,
    timings: dict[str, float],
) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(dsn))
    now_sql = f"'{now.isoformat()}'::timestamptz"

    async def step(name: str, statement: str) -> None:
        began = time.monotonic()
        await conn.execute(statement)
        timings[name] = round(time.monotonic() - began, 2)

    try:
        await conn.execute(
            "SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'; SET jit = off"
        )
        rebuild: list[str] = []
        for table in BIG_TABLES:
            for drop, create in await _secondary_indexes(conn, table):
                await conn.execute(drop)
                rebuild.append(create)
        await step(
            "customers",
            _customers_sql(shop_id, params["customers"], config["tiers"][0][0], now_sql),
        )
        first = await conn.fetchval("SELECT min(id) FROM customer WHERE shop_id = $1", shop_id)
        await step("entries", _entries_sql(shop_id, config, params, first, now_sql))
        await step("activity", _activity_sql(shop_id, first))
        await step("redemptions", _redemptions_sql(shop_id, config, params, first, now_sql))
        began = time.monotonic()
        for statement in rebuild:
            await conn.execute(statement)
        timings["indexes"] = round(time.monotonic() - began, 2)
        await step("balances", _balances_sql(shop_id, config["tiers"]))
        await step("notices", _notified_sql(shop_id, now_sql))
        # Now, not as autovacuum in the middle of a measured run: statistics for the planner
        # and the visibility map for index-only scans.
        await step("vacuum", "VACUUM (ANALYZE)")
    finally:
        await conn.close()


def admin_bearer(domain: str, *, secret: str, api_key: str, staff_user_id: str = "1") -> str:
    """An App Bridge ID token for `/app` and `/app/api` calls to a server with these app
    credentials (`Authorization: Bearer …`), signed as Shopify signs them."""
    from web.demo.session_tokens import session_token

    return session_token(domain, secret=secret, api_key=api_key, staff_user_id=staff_user_id)


def main() -> None:
    """`python bench/scale_seed.py DSN`: seed (sizes from BENCH_SCALE_CUSTOMERS /
    BENCH_SCALE_ENTRIES) and print the result as JSON."""
    dsn = sys.argv[1]
    result = asyncio.run(
        seed_big_shop(
            dsn,
            customers=int(os.environ.get("BENCH_SCALE_CUSTOMERS", 1_000_000)),
            entries=int(os.environ.get("BENCH_SCALE_ENTRIES", 10_000_000)),
        )
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
