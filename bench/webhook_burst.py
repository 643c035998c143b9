"""The webhook burst benchmark behind `bench/webhooks` (run that; it sets up the virtualenv).

1. A throwaway PostgreSQL database (`loyalty migrate`), a shop with a purchase rule (1 point per
   unit of subtotal), Bronze/Silver/Gold tiers and BENCH_CUSTOMERS customers; a Redis database
   of the bench's own (flushed before and after).
2. The real app: `uvicorn web.asgi:create --factory` and one `loyalty worker`, both with
   SHOPIFY_API_KEY/SHOPIFY_API_SECRET set.
3. BENCH_DELIVERIES signed `orders/paid` deliveries (10 % of them repeats: a delivery re-sent
   with the same webhook id, as Shopify does when it retries), sent as fast as the server takes
   them over BENCH_CONCURRENCY keep-alive connections. The request bytes are built and signed
   before the clock starts; the client is raw asyncio streams, so it costs the two shared cores
   as little as possible. Printed: acknowledgement latency p50/p90/p99/max and deliveries/s.
4. Once the worker has drained every delivery: each order has exactly one ledger entry, with
   the right points; repeats were stored once and nothing failed. Exits non-zero otherwise.

Environment (all optional):
    BENCH_DELIVERIES=2000  BENCH_DUPLICATE_SHARE=0.10  BENCH_CONCURRENCY=32  BENCH_CUSTOMERS=500
    BENCH_WEB_PROCESSES=1  BENCH_DRAIN_TIMEOUT=300
    BENCH_PG_URL=postgres://postgres@127.0.0.1:5432     (a database is created and dropped)
    BENCH_PG_ADMIN_URL=$BENCH_PG_URL/postgres           (where CREATE DATABASE runs)
    BENCH_REDIS_URL=redis://127.0.0.1:6379/14           (a Redis database the bench owns)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import asyncpg
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"

DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "2000"))
DUPLICATE_SHARE = float(os.environ.get("BENCH_DUPLICATE_SHARE", "0.10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "500"))
WEB_PROCESSES = int(os.environ.get("BENCH_WEB_PROCESSES", "1"))
DRAIN_TIMEOUT = float(os.environ.get("BENCH_DRAIN_TIMEOUT", "300"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", f"{PG_URL}/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

SHOP = "bench-webhooks.myshopify.com"
API_KEY = "bench-client-id"
API_SECRET = "bench-client-secret-0123456789abcdef"  # noqa: S105 - a throwaway app secret
RULE_POINTS = 1  # points per unit of the order's subtotal
TIERS = [
    ("Bronze", 0, Decimal("1.00")),
    ("Silver", 500, Decimal("1.25")),
    ("Gold", 2000, Decimal("1.50")),
]
WARMUP = 64  # deliveries of orders of their own before the measured burst
CUSTOMER_ID_BASE = 9_100_000_000_000
ORDER_ID_BASE = 5_500_000_000_000


def log(message: str) -> None:
    print(f"\033[1m[bench {time.strftime('%H:%M:%S')}]\033[0m {message}", file=sys.stderr)


def pg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


# ------------------------------------------------------------------------------- the deliveries


@dataclass(frozen=True)
class Order:
    order_id: int
    customer_id: int
    subtotal: Decimal


@dataclass(frozen=True)
class Send:
    order: Order
    webhook_id: str
    request: bytes  # the whole HTTP/1.1 request, signed
    repeat: bool


def sign(body: bytes) -> str:
    """Shopify's signature: base64 of HMAC-SHA256 over the raw body with the app's secret."""
    return base64.b64encode(hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def order_body(order: Order) -> bytes:
    amount = f"{order.subtotal:.2f}"
    customer = {
        "id": order.customer_id,
        "email": f"buyer{order.customer_id - CUSTOMER_ID_BASE}@example.com",
        "first_name": "Bench",
        "last_name": "Buyer",
        "tags": "",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2026-11-25T00:00:00Z",
    }
    lines = [
        {"id": order.order_id * 10 + n, "quantity": 1, "price": amount, "title": f"Item {n}"}
        for n in range(3)
    ]
    return json.dumps(
        {
            "id": order.order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order.order_id}",
            "name": f"#{order.order_id - ORDER_ID_BASE}",
            "order_number": order.order_id - ORDER_ID_BASE,
            "email": customer["email"],
            "created_at": "2026-11-25T10:00:00Z",
            "currency": "USD",
            "financial_status": "paid",
            "test": False,
            "cancelled_at": None,
            "total_price": amount,
            "subtotal_price": amount,
            "total_discounts": "0.00",
            "subtotal_price_set": {
                "shop_money": {"amount": amount, "currency_code": "USD"},
                "presentment_money": {"amount": amount, "currency_code": "USD"},
            },
            "line_items": lines,
            "refunds": [],
            "customer": customer,
        },
        separators=(",", ":"),
    ).encode()


def http_request(port: int, body: bytes, webhook_id: str) -> bytes:
    headers = [
        "POST /webhooks/orders HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-Shopify-Topic: orders/paid",
        f"X-Shopify-Hmac-Sha256: {sign(body)}",
        f"X-Shopify-Shop-Domain: {SHOP}",
        "X-Shopify-API-Version: 2026-10",
        f"X-Shopify-Webhook-Id: {webhook_id}",
        f"X-Shopify-Event-Id: {uuid.uuid4()}",
        "X-Shopify-Triggered-At: 2026-11-25T10:00:00.123456789Z",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def plan(port: int, rng: random.Random, count: int, share: float, first_id: int) -> list[Send]:
    """`count` deliveries, `share` of them repeats, each placed after the delivery it repeats."""
    repeats = round(count * share)
    unique = count - repeats
    sends: list[Send] = []
    for n in range(unique):
        order = Order(
            order_id=first_id + n,
            customer_id=CUSTOMER_ID_BASE + rng.randrange(1, CUSTOMERS * 11 // 10 + 1),
            subtotal=Decimal(rng.randrange(500, 40000)) / 100,
        )
        webhook_id = str(uuid.uuid4())
        sends.append(
            Send(order, webhook_id, http_request(port, order_body(order), webhook_id), False)
        )
    for original in rng.sample(range(unique), repeats):
        first = sends[original]
        position = rng.randrange(original + 1, len(sends) + 1)
        sends.insert(position, Send(first.order, first.webhook_id, first.request, True))
    return sends


# ------------------------------------------------------------------------------------ the client


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0


async def send_all(port: int, sends: list[Send], concurrency: int) -> Results:
    """Each connection takes the next delivery when its previous answer is in (a closed loop,
    like wrk): as fast as the server takes them, `concurrency` in flight."""
    results = Results()
    queue = iter(sends)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for send in queue:
                started = time.perf_counter()
                writer.write(send.request)
                head = await reader.readuntil(b"\r\n\r\n")
                status, length = parse_head(head)
                body = await reader.readexactly(length)
                results.latencies.append(time.perf_counter() - started)
                results.statuses[status] = results.statuses.get(status, 0) + 1
                key = body.decode(errors="replace")
                results.bodies[key] = results.bodies.get(key, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    results.elapsed = time.perf_counter() - started
    return results


def parse_head(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, length


def percentile(sorted_values: list[float], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


# --------------------------------------------------------------------------- database and seeds


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(pg_dsn(PG_ADMIN_URL))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def seed(dsn: str, rng: random.Random) -> None:
    conn = await asyncpg.connect(pg_dsn(dsn))
    try:
        shop_id = await conn.fetchval(
            # Tortoise's defaults live in Python, not the schema: name every NOT NULL column.
            "INSERT INTO shop (domain, name, scopes, installed_at, programme_enabled, timezone, "
            "backfill_customers, created_at, updated_at) "
            "VALUES ($1, 'Bench', '', now(), true, 'UTC', 0, now(), now()) "
            "RETURNING id",
            SHOP,
        )
        tier_ids = []
        for n, (name, required, multiplier) in enumerate(TIERS):
            tier_ids.append(
                await conn.fetchval(
                    "INSERT INTO vip_tier (public_id, shop_id, name, description, points_required,"
                    " points_multiplier, badge_color, created_at, updated_at) "
                    "VALUES ($1, $2, $3, '', $4, $5, '#5C6AC4', now(), now()) RETURNING id",
                    f"tier_bench_{n}",
                    shop_id,
                    name,
                    required,
                    multiplier,
                )
            )
        await conn.execute(
            "INSERT INTO earning_rule (public_id, shop_id, name, description, action, category, "
            "points, is_active, approval_time_days, customer_facing_label, repeatable, "
            "created_at, updated_at) VALUES ('rule_bench_purchase', $1, 'Purchases', '', "
            "'place_order', 'purchase', $2, true, 0, '', true, now(), now())",
            shop_id,
            RULE_POINTS,
        )
        # Every tenth customer in the orders is new to the app (created from the order).
        rows = []
        for n in range(1, CUSTOMERS + 1):
            tier = n % 3
            lifetime = [0, 500, 2000][tier] + rng.randrange(0, 400)
            rows.append(
                (
                    shop_id,
                    CUSTOMER_ID_BASE + n,
                    f"buyer{n}@example.com",
                    f"buyer{n}@example.com",
                    lifetime,
                    tier_ids[tier],
                )
            )
        await conn.executemany(
            "INSERT INTO customer (shop_id, shopify_customer_id, email, email_key, first_name, "
            "last_name, tags, is_excluded, points_balance, pending_points, lifetime_points, "
            "redeemed_points, vip_tier_id, created_at, updated_at) VALUES ($1, $2, $3, $4, "
            "'Bench', 'Buyer', '', false, $5, 0, $5, 0, $6, now(), now())",
            rows,
        )
    finally:
        await conn.close()


@dataclass
class Check:
    problems: list[str]
    lines: list[str]


async def check(dsn: str, sends: list[Send]) -> Check:
    orders = {send.order.order_id: send.order for send in sends}
    repeats = sum(send.repeat for send in sends)
    conn = await asyncpg.connect(pg_dsn(dsn))
    try:
        events = await conn.fetchrow(
            "SELECT count(*) AS stored, count(*) FILTER (WHERE processed_at IS NULL) AS owed, "
            "count(*) FILTER (WHERE last_error IS NOT NULL) AS failed FROM webhook_event"
        )
        entries = await conn.fetch(
            "SELECT order_id, base_points, points_multiplier, points, status "
            "FROM earning_history_entry"
        )
        totals = await conn.fetchrow(
            "SELECT (SELECT coalesce(sum(points_balance), 0) FROM customer) AS balances, "
            "(SELECT coalesce(sum(points), 0) FROM earning_history_entry) AS ledger, "
            "(SELECT count(*) FROM customer) AS customers"
        )
        intents = await conn.fetchval(
            "SELECT count(*) FROM outbox_intent WHERE completed_at IS NULL"
        )
    finally:
        await conn.close()

    problems = []
    per_order: dict[int, int] = {}
    allowed = {multiplier for _, _, multiplier in TIERS}
    wrong_points = 0
    for row in entries:
        per_order[row["order_id"]] = per_order.get(row["order_id"], 0) + 1
        order = orders.get(row["order_id"])
        base = int(order.subtotal * RULE_POINTS) if order else -1
        expected = int(
            (Decimal(base) * row["points_multiplier"]).quantize(Decimal(1), ROUND_HALF_UP)
        )
        if (
            row["base_points"] != base
            or row["points"] != expected
            or row["points_multiplier"] not in allowed
            or row["status"] != "approved"
        ):
            wrong_points += 1
    missing = [order_id for order_id in orders if per_order.get(order_id, 0) == 0]
    doubled = [order_id for order_id, count in per_order.items() if count > 1]
    unknown = [order_id for order_id in per_order if order_id not in orders]
    if events["stored"] != len(orders):
        problems.append(f"{events['stored']} deliveries stored, expected {len(orders)}")
    if events["owed"] or events["failed"]:
        problems.append(f"{events['owed']} deliveries unhandled, {events['failed']} failed")
    if missing or doubled or unknown:
        problems.append(
            f"orders awarded 0 times: {len(missing)}, more than once: {len(doubled)}, "
            f"unknown: {len(unknown)}"
        )
    if wrong_points:
        problems.append(f"{wrong_points} entries with points ≠ floor(subtotal) × tier multiplier")
    lines = [
        f"deliveries stored {events['stored']} (= {len(orders)} orders; {repeats} repeats "
        f"stored 0 times), unhandled {events['owed']}, failed {events['failed']}",
        f"ledger entries {len(entries)}: orders awarded exactly once {len(orders) - len(missing)}"
        f"/{len(orders)}, twice or more {len(doubled)}, points wrong {wrong_points}",
        f"customers {totals['customers']} ({totals['customers'] - CUSTOMERS} created from orders);"
        f" points in the ledger {totals['ledger']}; customer syncs still owed {intents}",
    ]
    return Check(problems, lines)


# ------------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, processes: list[subprocess.Popen[bytes]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our server
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one process this bench started: TERM, then KILL after 15 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_drained(dsn: str, orders: int) -> float:
    """Seconds until every stored delivery is handled and the syncs they owe are done."""
    started = time.perf_counter()
    conn = await asyncpg.connect(pg_dsn(dsn))
    try:
        while time.perf_counter() - started < DRAIN_TIMEOUT:
            owed = await conn.fetchval(
                "SELECT (SELECT count(*) FROM webhook_event WHERE processed_at IS NULL) + "
                "(SELECT count(*) FROM outbox_intent WHERE completed_at IS NULL)"
            )
            stored = await conn.fetchval("SELECT count(*) FROM webhook_event")
            if owed == 0 and stored >= orders:
                return time.perf_counter() - started
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise SystemExit(
        f"the worker did not drain within {DRAIN_TIMEOUT} s: {stored} of {orders} orders "
        f"stored, {owed} deliveries or syncs still owed"
    )


def main() -> int:
    load_before = os.getloadavg()[0]
    rng = random.Random(20261125)
    name = f"bench_webhooks_{int(time.time())}_{os.getpid()}"
    dsn = f"{PG_URL}/{name}"
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks."))
    cache = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    cache.flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SECRET_KEY": "bench-not-a-secret-0123456789abcdef",
        "LOG_LEVEL": "warning",
        "LOYALTY_DATA_DIR": str(work / "data"),
    }
    processes: list[subprocess.Popen[bytes]] = []
    log(f"creating database {name}")
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        subprocess.run([BIN / "loyalty", "migrate"], env=env, check=True, capture_output=True)
        asyncio.run(seed(dsn, rng))
        port = free_port()
        with (work / "web.log").open("wb") as web_log, (work / "worker.log").open("wb") as wlog:
            processes.append(
                subprocess.Popen(
                    [
                        BIN / "uvicorn",
                        "web.asgi:create",
                        "--factory",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        str(WEB_PROCESSES),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=web_log,
                    stderr=subprocess.STDOUT,
                )
            )
            processes.append(
                subprocess.Popen(
                    [BIN / "loyalty", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=wlog,
                    stderr=subprocess.STDOUT,
                )
            )
            wait_ready(f"http://127.0.0.1:{port}/readyz", processes)
            warmup = plan(port, rng, WARMUP, 0, ORDER_ID_BASE + 1)
            sends = plan(port, rng, DELIVERIES, DUPLICATE_SHARE, ORDER_ID_BASE + WARMUP + 1)
            log(f"warming up with {len(warmup)} deliveries of other orders")
            asyncio.run(send_all(port, warmup, CONCURRENCY))
            asyncio.run(wait_drained(dsn, len(warmup)))
            log(f"sending {len(sends)} deliveries over {CONCURRENCY} connections")
            results = asyncio.run(send_all(port, sends, CONCURRENCY))
            log("waiting for the worker to drain")
            orders = len({send.order.order_id for send in warmup + sends})
            drain = asyncio.run(wait_drained(dsn, orders))
            outcome = asyncio.run(check(dsn, warmup + sends))
        report(sends, warmup, results, drain, outcome, load_before)
        return 1 if outcome.problems or set(results.statuses) != {200} else 0
    finally:
        for process in processes:
            stop(process)
        for name_ in ("web.log", "worker.log"):
            path = work / name_
            if path.exists() and path.stat().st_size:
                log(f"{name_} (last lines):\n" + "\n".join(path.read_text().splitlines()[-10:]))
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        cache.flushdb()
        cache.close()


def report(
    sends: list[Send],
    warmup: list[Send],
    results: Results,
    drain: float,
    outcome: Check,
    load_before: float,
) -> None:
    latencies = sorted(results.latencies)
    ms = [1000 * percentile(latencies, p) for p in (0.50, 0.90, 0.99)]
    repeats = sum(s.repeat for s in sends)
    accepted = results.bodies.get('{"status":"accepted"}', 0)
    duplicate = results.bodies.get('{"status":"duplicate"}', 0)
    rule = "=" * 100
    p99_ok = "met" if ms[2] <= 50 else "NOT MET"
    print(rule)
    print(
        f"bench/webhooks  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  "
        f"host {socket.gethostname()} ({os.cpu_count()} cores)  PostgreSQL + Redis, "
        f"{WEB_PROCESSES} web process(es) + 1 arq worker"
    )
    print(
        f"{len(sends)} signed orders/paid deliveries ({len(sends) - repeats} orders + {repeats} "
        f"repeats of the same webhook id), {CONCURRENCY} connections, after "
        f"{len(warmup)} warm-up deliveries; load average before the run {load_before:.2f}"
    )
    print(rule)
    print(
        f"acknowledgement  p50 {ms[0]:6.1f} ms   p90 {ms[1]:6.1f} ms   p99 {ms[2]:6.1f} ms   "
        f"max {1000 * latencies[-1]:6.1f} ms   (target p99 ≤ 50 ms: {p99_ok})"
    )
    print(
        f"throughput       {len(sends) / results.elapsed:7.0f} deliveries/s over "
        f"{results.elapsed:.2f} s; answers {dict(sorted(results.statuses.items()))}: "
        f"{accepted} accepted, {duplicate} duplicate"
    )
    print(f"worker drained   {drain:.2f} s after the last acknowledgement")
    for line in outcome.lines:
        print(f"check            {line}")
    if outcome.problems:
        print("PROBLEMS: " + "; ".join(outcome.problems))
    else:
        print("OK: every order awarded exactly once; no delivery lost, repeated or failed.")


if __name__ == "__main__":
    raise SystemExit(main())
