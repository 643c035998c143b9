"""bench/redeem: reward purchases (`POST /api/v1/rewards/{id}/purchase`) under load on
PostgreSQL + Redis, against the award path measured in the same run, and the code-live lag.

One throwaway database (bench/helpers.py's seed: a shop, tiers, the social rule, BENCH_CUSTOMERS
customers, an API key), made a connected shop with a $1-off reward costing 100 points. Then
`uvicorn web.asgi:create --factory --workers BENCH_WEB_PROCESSES` and one `loyalty worker`,
pointed at the schema-validating Shopify stand-in (standins/shopify_admin.py, Standard-plan
cost bucket) served by this script, and:

1. code-live lag: BENCH_LAG_COUNT purchases paced at BENCH_LAG_RATE a second; per purchase,
   seconds from the redemption's `created_at` (set before its commit, so the figure errs long)
   to the moment its code exists in the stand-in. Target p99 ≤ 2 s.
2. award: wrk (bench/award.lua) at BENCH_CONNECTIONS connections, a warm-up then
   BENCH_DURATION measured seconds, each request awarding the rule to another customer.
3. redeem: the same wrk settings, each request redeeming the reward for another customer
   (n = 1, 4, 7, …: seeded with 500 points or more). BENCH_ORDER="redeem award" runs it
   first (each path runs while the worker still works off what the one before left).
   Targets: p99 ≤ 50 ms, throughput ≥ 50% of the award's.
Then a check: redemptions in the database = wrk's 201s, no balance below zero, redeemed
points = 100 × redemptions, no code in the stand-in twice or unknown to the database.
Exits non-zero when a request failed or a check did not hold (targets are reported, not
enforced). Settings: the BENCH_* variables here and in bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

from bench.helpers import ID_BASE, RULE_POINTS, parse_wrk  # noqa: E402 - after the path is set
from bench.platform_limits import free_port, pg_dsn  # noqa: E402
from bench.sync_burst import percentile, stop, wait_ready  # noqa: E402
from loyalty.crypto import SecretBox  # noqa: E402
from standins.shopify_admin import CostBucket, ShopifyAdmin  # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "20"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PROCESSES = int(os.environ.get("BENCH_WEB_PROCESSES", "2"))
# Enough for both paths on a fast machine: the award takes every customer (3,700/s × 25 s
# measured on 2026-12-05), a purchase every third; a run past them shows up as 404s.
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "300000"))
LAG_COUNT = int(os.environ.get("BENCH_LAG_COUNT", "200"))
LAG_RATE = float(os.environ.get("BENCH_LAG_RATE", "5"))
LAG_TIMEOUT = float(os.environ.get("BENCH_LAG_TIMEOUT", "60"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", f"{PG_URL}/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# `info` logs each job's start with how late it started (arq): bench/out/redeem-*/worker.log
WORKER_LOG_LEVEL = os.environ.get("BENCH_WORKER_LOG_LEVEL", "warning")
SECRET_KEY = "bench-not-a-secret-0123456789abcdef"  # noqa: S105 - a throwaway key
COST = RULE_POINTS  # the reward costs what one award gives
# The lag phase's customers: the last seeded ones, apart from wrk's, whose seeded balance
# (bench/helpers.py: 500 or more unless n % 3 == 0) covers the reward.
LAG_CUSTOMERS = [ID_BASE + n for n in range(CUSTOMERS, 0, -1) if n % 3 == 2][:LAG_COUNT]
# wrk's customers: n = first + k × stride (bench/award.lua). The award takes every customer;
# purchases take n = 1, 4, 7, … (seeded with 500 points or more), apart from the lag's.
STRIDES = {"award": 1, "redeem": 3}
ORDER = os.environ.get("BENCH_ORDER", "award redeem").split()


def log(message: str) -> None:
    print(f"\033[1m[bench {time.strftime('%H:%M:%S')}]\033[0m {message}", file=sys.stderr)


class Codes:
    """The stand-in, noting when each discount code first exists in it."""

    def __init__(self) -> None:
        self.shopify = ShopifyAdmin(bucket=CostBucket())  # Standard plan: 2,000, 100/s
        self.live_at: dict[str, float] = {}  # code → time.time() it was created

    def app(self) -> Starlette:
        async def graphql(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                body = None
            status, payload = self.shopify.answer(body, version=request.path_params["version"])
            now = time.time()
            for code in self.shopify.discount_codes:
                self.live_at.setdefault(code, now)
            return JSONResponse(payload, status_code=status)

        path = "/shopify/admin/api/{version}/graphql.json"
        return Starlette(routes=[Route(path, graphql, methods=["POST"])])


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(pg_dsn(PG_ADMIN_URL))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def prepare(dsn: str) -> str:
    """The seeded shop connected to Shopify and its reward; the reward's id."""
    from loyalty.db import close_db, init_db
    from loyalty.models import RewardKind, Shop
    from loyalty.rewards.catalogue import RewardFields, create_reward

    box, now = SecretBox(SECRET_KEY), datetime.now(UTC)
    await init_db(dsn)
    try:
        shop = await Shop.get(domain="bench.myshopify.com")
        await Shop.filter(id=shop.id).update(
            installed_at=now,
            access_token_enc=box.encrypt("shpat_bench"),
            access_token_expires_at=now + timedelta(days=30),
        )
        fields = RewardFields(
            name="$1 off",
            kind=RewardKind.FIXED_AMOUNT,
            points_cost=COST,
            value=Decimal("1.00"),
            code_validity_days=30,
        )
        reward = await create_reward(shop_id=shop.id, data=fields)
        return reward.public_id
    finally:
        await close_db()


async def code_lag(port: int, key: str, reward: str, codes: Codes) -> list[float]:
    """Paced purchases; per purchase, seconds from its created_at to its code in Shopify."""
    created: dict[str, float] = {}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": key}, timeout=30
    ) as http:
        for n, customer in enumerate(LAG_CUSTOMERS, 1):
            started = time.monotonic()
            response = await http.post(
                f"/api/v1/rewards/{reward}/purchase", json={"customer_identifier": str(customer)}
            )
            if response.status_code != 201:
                raise SystemExit(f"lag purchase {n}: {response.status_code} {response.text}")
            attributes = response.json()["data"]["attributes"]
            stamp = datetime.fromisoformat(attributes["created_at"].replace("Z", "+00:00"))
            created[attributes["discount_code"]] = stamp.timestamp()
            await asyncio.sleep(max(0.0, 1 / LAG_RATE - (time.monotonic() - started)))
    for _ in range(int(LAG_TIMEOUT * 10)):  # the last codes: wait for them, within reason
        if created.keys() <= codes.live_at.keys():
            break
        await asyncio.sleep(0.1)
    return sorted(
        max(0.0, codes.live_at[code] - at) if code in codes.live_at else float("inf")
        for code, at in created.items()
    )


def wrk(
    label: str, out: Path, port: int, path: str, key: str, first_n: int, seconds: int
) -> dict[str, Any]:
    stride = STRIDES[label.split("-")[0]]
    file = out / f"{label}.txt"
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-H", f"Authorization: {key}", "-s", str(ROOT / "bench/award.lua")]
    command += [f"http://127.0.0.1:{port}", "--", path, str(first_n), str(stride)]
    with file.open("w") as sink:
        subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT, check=True)
    result = parse_wrk(str(file))
    log(
        f"  {label:<14} {result['created_per_s']:7.0f} × 201/s  p50 "
        f"{result['p50_us'] / 1000:.1f} ms  p99 {result['p99_us'] / 1000:.1f} ms  "
        f"non-201 {result['other']} {result['statuses'] or ''}"
    )
    return result


async def check(dsn: str, runs: dict[str, dict[str, Any]], codes: Codes) -> list[str]:
    """The database against wrk's counts, once the requests wrk gave up on have finished."""
    await asyncio.sleep(3)
    redeem = runs["redeem"]
    answered = redeem["created"] + redeem["warmup_created"] + len(LAG_CUSTOMERS)
    # Requests wrk gave up on, or had in flight when a run stopped, may have committed.
    unanswered = redeem["socket_errors"] + redeem["warmup_other"] + 2 * CONNECTIONS
    conn = await asyncpg.connect(pg_dsn(dsn))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM redemption) AS redemptions,"
            " (SELECT coalesce(sum(redeemed_points), 0) FROM customer) AS redeemed,"
            " (SELECT count(*) FROM customer WHERE points_balance < 0) AS negative,"
            " (SELECT count(*) FROM redemption WHERE shopify_status = 'pending') AS pending,"
            " (SELECT array_agg(code) FROM redemption) AS codes"
        )
    finally:
        await conn.close()
    problems = []
    if not answered <= row["redemptions"] <= answered + unanswered:
        problems.append(
            f"{row['redemptions']} redemptions; 201s {answered}, unanswered {unanswered}"
        )
    if row["negative"]:
        problems.append(f"{row['negative']} balances below zero")
    if row["redeemed"] != COST * row["redemptions"]:
        problems.append(f"redeemed points {row['redeemed']} != {COST} × {row['redemptions']}")
    strangers = set(codes.shopify.discount_codes) - set(row["codes"] or ())
    if strangers:
        problems.append(f"{len(strangers)} codes in Shopify no redemption has")
    log(f"codes in Shopify {len(codes.shopify.discount_codes)}, still pending {row['pending']}")
    return problems


async def measure(dsn: str, port: int, stub_port: int, env: dict[str, str], out: Path) -> int:
    codes = Codes()
    server = uvicorn.Server(
        uvicorn.Config(codes.app(), host="127.0.0.1", port=stub_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        key, reward = env["BENCH_KEY"], env["BENCH_REWARD"]
        await wait_ready(f"http://127.0.0.1:{port}/readyz", [])
        log(f"code-live lag: {LAG_COUNT} purchases at {LAG_RATE:g}/s")
        lag = await code_lag(port, key, reward, codes)
        paths = {
            "award": "/api/v1/earning-rules/rule_bench_social/award",
            "redeem": f"/api/v1/rewards/{reward}/purchase",
        }
        runs: dict[str, dict[str, Any]] = {}
        for label, path in ((label, paths[label]) for label in ORDER):
            # Neither path pays for the dirty pages of the seed or of the path before it.
            await admin("CHECKPOINT")
            warm = await asyncio.to_thread(wrk, f"{label}-warmup", out, port, path, key, 1, WARMUP)
            runs[label] = await asyncio.to_thread(
                wrk, label, out, port, path, key, warm["next_n"], DURATION
            )
            runs[label]["warmup_created"] = warm["created"]
            runs[label]["warmup_other"] = warm["other"] + warm["socket_errors"]
        problems = await check(dsn, runs, codes)
    finally:
        server.should_exit = True
        await serving
    return report(runs, lag, problems)


def report(runs: dict[str, dict[str, Any]], lag: list[float], problems: list[str]) -> int:
    award, redeem = runs["award"], runs["redeem"]
    ratio = redeem["created_per_s"] / award["created_per_s"] if award["created_per_s"] else 0.0
    p99_ms = redeem["p99_us"] / 1000
    lag50, lag99 = percentile(lag, 0.50), percentile(lag, 0.99)
    for label, r in runs.items():
        failed = r["other"] + r["socket_errors"] + r["warmup_other"]
        if failed:
            problems.append(f"{label}: {failed} requests not 201 ({r['statuses']} {r['errors']})")
    rule = "=" * 100
    print(rule)
    print(
        f"bench/redeem  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  "
        f"{os.cpu_count()} cores (load {os.getloadavg()[0]:.1f})  PostgreSQL + Redis, "
        f"{PROCESSES} web processes + 1 worker, "
        f"wrk {CONNECTIONS} connections, {DURATION} s measured"
    )
    for label, r in runs.items():
        print(
            f"  {label:<7} {r['created_per_s']:8.0f} /s   p50 {r['p50_us'] / 1000:6.1f} ms   "
            f"p99 {r['p99_us'] / 1000:6.1f} ms   max {r['max_us'] / 1000:6.1f} ms"
        )
    print(f"  redeem / award throughput: {ratio:.0%}   (target ≥ 50%)")
    print(f"  redeem p99: {p99_ms:.1f} ms   (target ≤ 50 ms)")
    print(
        f"  code-live lag ({len(lag)} codes at {LAG_RATE:g}/s): p50 {lag50:.2f} s  "
        f"p99 {lag99:.2f} s  max {lag[-1]:.2f} s   (target p99 ≤ 2 s)"
    )
    targets = [ratio >= 0.5, p99_ms <= 50, lag99 <= 2]
    print(f"  targets met: {sum(targets)} of 3")
    for problem in problems:
        print(f"  FAILED: {problem}")
    print(rule)
    return 1 if problems else 0


def run(work: Path, dsn: str, out: Path) -> int:
    stub_port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv's install points at
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "SHOPIFY_API_KEY": "bench-client-id",
        "SHOPIFY_API_SECRET": "bench-client-secret-0123456789abcdef",
        "SECRET_KEY": SECRET_KEY,
        "LOG_LEVEL": "warning",
        "LOYALTY_DATA_DIR": str(work / "data"),
        "SHOPIFY_ADMIN_BASE_URL": f"http://127.0.0.1:{stub_port}/shopify",
        # One key drives every request: the limits out of the way, the limiter still in the path.
        "API_RATE_LIMIT": "100000",
        "API_RATE_BURST": "100000",
        "API_AWARD_RATE_LIMIT": "100000",
        "API_AWARD_RATE_BURST": "100000",
    }
    subprocess.run([BIN / "loyalty", "migrate"], env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [BIN / "python", ROOT / "bench/helpers.py", "seed", str(CUSTOMERS)],
        env=env,
        check=True,
        capture_output=True,
    )
    env["BENCH_KEY"] = json.loads(seeded.stdout)["api_key"]
    env["BENCH_REWARD"] = asyncio.run(prepare(dsn))
    port = free_port()
    web = [str(BIN / "uvicorn"), "web.asgi:create", "--factory", "--host", "127.0.0.1"]
    web += ["--port", str(port), "--workers", str(PROCESSES), "--log-level", "warning"]
    web += ["--no-access-log"]
    processes: list[subprocess.Popen[bytes]] = []
    with (work / "web.log").open("wb") as web_log, (work / "worker.log").open("wb") as wlog:
        try:
            worker = ([str(BIN / "loyalty"), "worker"], wlog, {"LOG_LEVEL": WORKER_LOG_LEVEL})
            for command, sink, extra in ((web, web_log, {}), worker):
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env | extra,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )
            status = asyncio.run(measure(dsn, port, stub_port, env, out))
        finally:
            for process in processes:
                stop(process)
    for name in ("web.log", "worker.log"):
        (out / name).write_bytes((work / name).read_bytes())  # kept with the run's results
        lines = (work / name).read_text(errors="replace").splitlines()
        errors = [line for line in lines if "Traceback" in line or "ERROR" in line]
        if errors:
            log(f"{name}: {len(errors)} error line(s), last: {errors[-1]}")
    return status


def main() -> int:
    name = f"bench_redeem_{int(time.time())}_{os.getpid()}"
    out = ROOT / "bench/out" / f"redeem-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    out.mkdir(parents=True, exist_ok=True)
    redis.Redis.from_url(REDIS_URL).flushdb()
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-redeem.") as work:
            return run(Path(work), f"{PG_URL}/{name}", out)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
