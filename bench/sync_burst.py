"""bench/sync: 1,000 awards over 100 customers, then the worker syncs them to stand-ins for
Klaviyo, Omnisend, Postscript and Shopify's Admin GraphQL API that enforce the published rate
limits (429 / THROTTLED past them). Prints calls per platform, award-to-metafield lag and
whether any limit was exceeded. Settings: the BENCH_* variables below (bench/README.md)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

from bench.platform_limits import (  # noqa: E402 - after the path is set
    PLATFORM_KEYS,
    Limit,
    free_port,
    pg_dsn,
    published_limits,
)
from loyalty.crypto import SecretBox  # noqa: E402 - after the path is set
from standins.partners import Call, judge  # noqa: E402 - the vendors' contracts judge the stand-ins
from standins.shopify_admin import CostBucket, ShopifyAdmin  # noqa: E402

AWARDS = int(os.environ.get("BENCH_AWARDS", "1000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "100"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
DRAIN_TIMEOUT = float(os.environ.get("BENCH_DRAIN_TIMEOUT", "600"))
SYNC_DELAY = os.environ.get("BENCH_MARKETING_SYNC_DELAY", "5")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", f"{PG_URL}/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

SHOP = "bench-sync.myshopify.com"
SECRET_KEY = "bench-not-a-secret-0123456789abcdef"  # noqa: S105 - a throwaway key
RULES = -(-AWARDS // CUSTOMERS)  # each award is a distinct (rule, customer) pair
RULE_POINTS = 10
CUSTOMER_ID_BASE = 9_300_000_000_000


def log(message: str) -> None:
    print(f"\033[1m[bench {time.strftime('%H:%M:%S')}]\033[0m {message}", file=sys.stderr)


# --------------------------------------------------------------------------- the stand-ins


@dataclass
class Stubs:
    limits: dict[str, Limit] = field(default_factory=published_limits)
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    event_keys: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    contract_refusals: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    profiles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # The balance each platform holds now, per customer (email or subscriber id): last write wins.
    shown: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    # Shopify: the schema-judging stand-in the tests use (standins/shopify_admin.py), with a
    # cost bucket of 1,000 restoring 100 a second.
    shopify: ShopifyAdmin = field(
        default_factory=lambda: ShopifyAdmin(bucket=CostBucket(maximum=1000.0, restore=100.0))
    )
    metafield_writes: dict[int, list[tuple[float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def stub_app(stubs: Stubs) -> Starlette:
    def limited(name: str, platform: str) -> Response | None:
        if stubs.limits[name].admit(time.monotonic()):
            return None
        if platform == "klaviyo":
            throttled = {
                "id": "bench",
                "status": 429,
                "code": "throttled",
                "title": "Request was throttled.",
                "detail": "Request was throttled. Expected available in 1 second.",
            }
            return JSONResponse(
                {"errors": [throttled]}, status_code=429, headers={"Retry-After": "1"}
            )
        if platform == "omnisend":
            return JSONResponse(
                {"type": "rate-limit-exceeded", "status": 429, "retryAfter": 1}, status_code=429
            )
        return JSONResponse({"error_code": 3002, "success": False}, status_code=429)

    async def refused(platform: str, request: Request) -> Response | None:
        """The vendor's own error for a request its published contract refuses
        (standins.partners), before the stand-in takes the call as done."""
        call = Call(
            method=request.method,
            path=request.url.path.removeprefix(f"/{platform}"),
            query=tuple(request.query_params.multi_items()),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.body(),
        )
        refusal = judge(platform, call)
        if refusal is None:
            return None
        stubs.contract_refusals[platform].append(f"{call.method} {call.path}: {refusal}")
        return JSONResponse(refusal.body, status_code=refusal.status)

    async def klaviyo_profile(request: Request) -> Response:
        if answer := limited("klaviyo profiles", "klaviyo") or await refused("klaviyo", request):
            return answer
        body = await request.json()
        stubs.calls["klaviyo profile"] += 1
        email = body["data"]["attributes"]["email"]
        stubs.profiles["klaviyo"].add(email)
        stubs.shown["klaviyo"][email] = body["data"]["attributes"]["properties"][
            "Loyalty Points Balance"
        ]
        links = {"self": "https://a.klaviyo.com/api/profiles/01H/"}  # a PostProfileResponse
        profile = {"type": "profile", "id": "01H", "attributes": {"email": email}, "links": links}
        return JSONResponse({"data": profile})

    async def klaviyo_event(request: Request) -> Response:
        if answer := limited("klaviyo events", "klaviyo") or await refused("klaviyo", request):
            return answer
        body = await request.json()
        stubs.calls["klaviyo event"] += 1
        stubs.event_keys["klaviyo"].append(body["data"]["attributes"]["unique_id"])
        return Response(status_code=202)

    async def omnisend_contact(request: Request) -> Response:
        if answer := limited("omnisend", "omnisend") or await refused("omnisend", request):
            return answer
        body = await request.json()
        stubs.calls["omnisend profile"] += 1
        stubs.profiles["omnisend"].add(body["identifiers"][0]["id"])
        stubs.shown["omnisend"][body["identifiers"][0]["id"]] = body["customProperties"][
            "loyalty_points_balance"
        ]
        return JSONResponse({"id": "60a6"})

    async def omnisend_event(request: Request) -> Response:
        if answer := limited("omnisend", "omnisend") or await refused("omnisend", request):
            return answer
        body = await request.json()
        stubs.calls["omnisend event"] += 1
        stubs.event_keys["omnisend"].append(body["eventID"])
        return Response(status_code=202)

    async def postscript_lookup(request: Request) -> Response:
        if answer := limited("postscript", "postscript") or await refused("postscript", request):
            return answer
        stubs.calls["postscript lookup"] += 1
        shopify_id = request.query_params.get("shopify_customer_id__eq", "0")
        return JSONResponse(
            {
                "page_info": {"page": 1, "total_pages": 1},
                "subscribers": [{"id": f"s_{shopify_id}", "properties": {}}],
            }
        )

    async def postscript_patch(request: Request) -> Response:
        if answer := limited("postscript", "postscript") or await refused("postscript", request):
            return answer
        stubs.calls["postscript profile"] += 1
        stubs.profiles["postscript"].add(request.path_params["subscriber"])
        body = await request.json()
        stubs.shown["postscript"][request.path_params["subscriber"]] = body["properties"][
            "loyalty_points_balance"
        ]
        return JSONResponse({"id": request.path_params["subscriber"]})

    async def postscript_event(request: Request) -> Response:
        if answer := limited("postscript", "postscript") or await refused("postscript", request):
            return answer
        body = await request.json()
        stubs.calls["postscript event"] += 1
        stubs.event_keys["postscript"].append(body["external_id"])
        return JSONResponse({"event_ids": [body["external_id"]]}, status_code=202)

    async def shopify_graphql(request: Request) -> Response:
        """Judged by Shopify's schema first: a document Shopify would refuse gets its refusal
        (HTTP 200 with `errors`), and is counted."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        written = len(stubs.shopify.writes)
        status, payload = stubs.shopify.answer(body, version=request.path_params["version"])
        now = time.monotonic()
        for owner, _, key, value in stubs.shopify.writes[written:]:
            if key == "points" and owner.startswith("gid://shopify/Customer/"):
                customer = int(owner.rsplit("/", 1)[-1])
                stubs.metafield_writes[customer].append((now, int(value)))
                stubs.shown["shopify"][str(customer)] = int(value)
        return JSONResponse(payload, status_code=status)

    return Starlette(
        routes=[
            Route("/klaviyo/api/profile-import", klaviyo_profile, methods=["POST"]),
            Route("/klaviyo/api/events", klaviyo_event, methods=["POST"]),
            Route("/omnisend/contacts", omnisend_contact, methods=["POST"]),
            Route("/omnisend/events", omnisend_event, methods=["POST"]),
            Route("/postscript/api/v2/subscribers", postscript_lookup, methods=["GET"]),
            Route(
                "/postscript/api/v2/subscribers/{subscriber}", postscript_patch, methods=["PATCH"]
            ),
            Route("/postscript/api/v2/events", postscript_event, methods=["POST"]),
            Route("/shopify/admin/api/{version}/graphql.json", shopify_graphql, methods=["POST"]),
        ]
    )


# --------------------------------------------------------------------------- database, seed


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(pg_dsn(PG_ADMIN_URL))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def seed(dsn: str) -> tuple[list[str], list[str]]:
    """The shop (connected to Shopify, all three platforms enabled), rules and customers,
    written with the app's own models so every column gets its default."""
    from loyalty import ids
    from loyalty.db import close_db, init_db
    from loyalty.models import Customer, EarningRule, Integration, Platform, RuleCategory, Shop

    box = SecretBox(SECRET_KEY)
    now = datetime.now(UTC)
    await init_db(dsn)
    try:
        shop = await Shop.create(
            domain=SHOP,
            name="Bench",
            scopes="read_customers,write_customers",
            installed_at=now,
            access_token_enc=box.encrypt("shpat_bench"),
            access_token_expires_at=now + timedelta(days=30),
        )
        for platform, key in PLATFORM_KEYS.items():
            await Integration.create(
                shop=shop,
                platform=Platform(platform),
                enabled=True,
                credentials_enc=box.encrypt(key),
            )
        rules = []
        for n in range(RULES):
            rule = await EarningRule.create(
                shop=shop,
                public_id=ids.new_public_id(ids.RULE),
                name=f"Bench action {n}",
                action=f"bench_action_{n}",
                category=RuleCategory.SOCIAL,
                points=RULE_POINTS,
                is_active=True,
                approval_time_days=0,
            )
            rules.append(rule.public_id)
        emails = [f"sync{n}@example.com" for n in range(1, CUSTOMERS + 1)]
        await Customer.bulk_create(
            [
                Customer(
                    shop=shop,
                    shopify_customer_id=CUSTOMER_ID_BASE + n,
                    email=email,
                    email_key=email,  # bulk_create skips save(), which derives it
                    first_name="Bench",
                    last_name="Sync",
                )
                for n, email in enumerate(emails, 1)
            ]
        )
        return rules, emails
    finally:
        await close_db()


# --------------------------------------------------------------------------- the run


@dataclass
class Award:
    customer: int  # Shopify customer id
    answered_at: float = 0.0
    status: int = 0
    balance_at_least: int = 0  # points the customer held once this award answered


async def drive(port: int, key: str, rules: list[str], emails: list[str]) -> list[Award]:
    """Every (rule, customer) pair once, customers interleaved, CONCURRENCY in flight."""
    plan = [(rule, n) for rule in rules for n in range(len(emails))][:AWARDS]
    done_per_customer: dict[int, int] = defaultdict(int)
    awards: list[Award] = []
    queue = iter(plan)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": key}, timeout=30
    ) as http:

        async def lane() -> None:
            for rule, n in queue:
                response = await http.post(
                    f"/api/v1/earning-rules/{rule}/award",
                    json={"customer_identifier": emails[n]},
                )
                award = Award(CUSTOMER_ID_BASE + n + 1, time.monotonic(), response.status_code)
                if response.status_code == 201:
                    done_per_customer[n] += 1
                    award.balance_at_least = done_per_customer[n] * RULE_POINTS
                awards.append(award)

        await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    return awards


async def wait_drained(dsn: str) -> float:
    started = time.monotonic()
    conn = await asyncpg.connect(pg_dsn(dsn))
    owed = -1
    try:
        while time.monotonic() - started < DRAIN_TIMEOUT:
            owed = await conn.fetchval(
                "SELECT count(*) FROM outbox_intent WHERE completed_at IS NULL"
            )
            if owed == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    raise SystemExit(f"the worker did not drain within {DRAIN_TIMEOUT} s: {owed} syncs owed")


def lags(stubs: Stubs, awards: list[Award]) -> list[float]:
    """Per award: seconds from its answer to the first metafield write showing a balance that
    includes it (at least the customer's awards answered by then)."""
    result = []
    for award in awards:
        if award.status != 201:
            continue
        writes = stubs.metafield_writes.get(award.customer, [])
        seen = [t for t, points in writes if points >= award.balance_at_least]
        if seen:
            result.append(max(0.0, min(seen) - award.answered_at))
        else:
            result.append(float("inf"))
    return sorted(result)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, max(0, round(share * len(values)) - 1))]


async def wait_ready(url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"{process.args!r} exited with {process.returncode}")
            try:
                if (await http.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def environment(work: Path, dsn: str, stub: str) -> dict[str, str]:
    """The app's settings for this run: the stand-ins' URLs in place of the real hosts."""
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "SHOPIFY_API_KEY": "bench-client-id",
        "SHOPIFY_API_SECRET": "bench-client-secret-0123456789abcdef",
        "SECRET_KEY": SECRET_KEY,
        "LOG_LEVEL": "warning",
        "LOYALTY_DATA_DIR": str(work / "data"),
        "KLAVIYO_BASE_URL": f"{stub}/klaviyo",
        "OMNISEND_BASE_URL": f"{stub}/omnisend",
        "POSTSCRIPT_BASE_URL": f"{stub}/postscript",
        "SHOPIFY_ADMIN_BASE_URL": f"{stub}/shopify",
        "MARKETING_SYNC_DELAY": SYNC_DELAY,
        "API_AWARD_RATE_LIMIT": "100000",
        "API_AWARD_RATE_BURST": "100000",
    }


async def measure(
    dsn: str,
    port: int,
    stub_port: int,
    key: str,
    rules: list[str],
    emails: list[str],
    processes: list[subprocess.Popen[bytes]],
) -> int:
    """Serve the stand-ins, drive the awards, wait for every sync; then report."""
    stubs = Stubs()
    server = uvicorn.Server(
        uvicorn.Config(stub_app(stubs), host="127.0.0.1", port=stub_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", processes)
        log(f"{AWARDS} awards over {CUSTOMERS} customers, {CONCURRENCY} in flight")
        started = time.monotonic()
        awards = await drive(port, key, rules, emails)
        award_seconds = time.monotonic() - started
        log("waiting for the worker to drain every sync")
        drain = await wait_drained(dsn)
        stale = await stale_values(dsn, stubs)
    finally:
        server.should_exit = True
        await serving
    return report(stubs, awards, award_seconds, drain, stale)


async def stale_values(dsn: str, stubs: Stubs) -> dict[str, int]:
    """Per platform: customers whose last written balance differs from the database's."""
    conn = await asyncpg.connect(pg_dsn(dsn))
    try:
        rows = await conn.fetch("SELECT shopify_customer_id, email, points_balance FROM customer")
    finally:
        await conn.close()
    keys = {
        "shopify": lambda r: str(r["shopify_customer_id"]),
        "klaviyo": lambda r: r["email"],
        "omnisend": lambda r: r["email"],
        "postscript": lambda r: f"s_{r['shopify_customer_id']}",
    }
    return {
        platform: sum(
            1
            for r in rows
            if key(r) in stubs.shown[platform]
            and stubs.shown[platform][key(r)] != r["points_balance"]
        )
        for platform, key in keys.items()
    }


def run(work: Path, dsn: str) -> int:
    stub_port = free_port()
    env = environment(work, dsn, f"http://127.0.0.1:{stub_port}")
    subprocess.run([BIN / "loyalty", "migrate"], env=env, check=True, capture_output=True)
    rules, emails = asyncio.run(seed(dsn))
    created = subprocess.run(
        [BIN / "loyalty", "api-key", "create", "--shop", SHOP],
        env=env,
        check=True,
        capture_output=True,
    )
    key = created.stdout.decode().strip()
    port = free_port()
    web = [str(BIN / "uvicorn"), "web.asgi:create", "--factory", "--host", "127.0.0.1"]
    web += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    processes: list[subprocess.Popen[bytes]] = []
    with (work / "web.log").open("wb") as web_log, (work / "worker.log").open("wb") as wlog:
        try:
            processes.append(
                subprocess.Popen(web, cwd=ROOT, env=env, stdout=web_log, stderr=subprocess.STDOUT)
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
            status = asyncio.run(measure(dsn, port, stub_port, key, rules, emails, processes))
        finally:
            for process in processes:
                stop(process)
    for name in ("web.log", "worker.log"):
        lines = (work / name).read_text(errors="replace").splitlines()
        errors = [line for line in lines if "Traceback" in line or "ERROR" in line]
        if errors:
            log(f"{name}: {len(errors)} error line(s), last: {errors[-1]}")
    return status


def report(
    stubs: Stubs, awards: list[Award], award_seconds: float, drain: float, stale: dict[str, int]
) -> int:
    ok = sum(1 for a in awards if a.status == 201)
    customers = len({a.customer for a in awards if a.status == 201})
    lag = lags(stubs, awards)
    p50, p99 = percentile(lag, 0.50), percentile(lag, 0.99)
    rule = "=" * 100
    problems = []
    print(rule)
    print(
        f"bench/sync  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  host "
        f"{socket.gethostname()} ({os.cpu_count()} cores)  PostgreSQL + Redis, 1 web process "
        f"+ 1 arq worker, stand-ins for Klaviyo, Omnisend, Postscript and Shopify"
    )
    print(
        f"{len(awards)} awards ({ok} answered 201) over {customers} customers in "
        f"{award_seconds:.2f} s ({len(awards) / award_seconds:.0f}/s); every sync done "
        f"{drain:.1f} s after the last award (MARKETING_SYNC_DELAY={SYNC_DELAY} s)"
    )
    print(rule)
    for platform in ("klaviyo", "omnisend", "postscript"):
        keys = stubs.event_keys[platform]
        profiles = stubs.calls[f"{platform} profile"]
        distinct = len(stubs.profiles[platform])
        print(
            f"{platform:<11} profile syncs {profiles:5d} ({distinct} distinct customers, "
            f"{profiles / max(1, distinct):.2f} each)   events {len(keys):5d} "
            f"({len(set(keys))} distinct; awards {ok})"
        )
        if len(set(keys)) != ok:
            problems.append(f"{platform}: {len(set(keys))} distinct events for {ok} awards")
    print(f"{'':<11} postscript subscriber lookups {stubs.calls['postscript lookup']}")
    contract = {platform: len(found) for platform, found in stubs.contract_refusals.items()}
    print(f"partner contracts: requests the vendor's contract refuses {contract or 'none'}")
    for platform, found in stubs.contract_refusals.items():
        problems.append(f"{platform} refused {len(found)} request(s), e.g. {found[0]}")
    shopify = stubs.shopify
    answered = Counter(c.operation for c in shopify.calls if "data" in c.payload)
    print(
        f"{'shopify':<11} calls answered {sum(answered.values()):5d} "
        f"({', '.join(f'{name} {n}' for name, n in sorted(answered.items())) or 'none'})   "
        f"THROTTLED answers {shopify.bucket.throttled}   documents rejected {len(shopify.rejected)}"
    )
    if shopify.rejected:
        first = shopify.rejected[0]
        print(f"{'':<11} first rejection ({first.operation}): {first.payload['errors'][0]}")
        problems.append(f"Shopify rejected {len(shopify.rejected)} document(s)")
    met = "met" if p99 <= 5.0 else "NOT MET"
    print(
        f"award → metafield lag  p50 {p50:.2f} s   p99 {p99:.2f} s   max {lag[-1]:.2f} s   "
        f"(target p99 ≤ 5 s: {met})"
    )
    refused = {name: limit.refused for name, limit in stubs.limits.items()}
    if any(refused.values()) or shopify.bucket.throttled:
        print(
            f"platform limits: calls over a limit (answered 429/THROTTLED): {refused}, "
            f"shopify {shopify.bucket.throttled}"
        )
    else:
        print("platform limits: never exceeded (no 429 from any stand-in, no THROTTLED)")
    print(f"final value differs from the database (customers): {stale}")
    problems += [f"{platform}: {n} stale final values" for platform, n in stale.items() if n]
    if ok != len(awards):
        problems.append(f"{len(awards) - ok} awards did not answer 201")
    if any(x == float("inf") for x in lag):
        problems.append("some awards never reached the customer's metafields")
    if problems:
        print("PROBLEMS: " + "; ".join(problems))
        return 1
    return 0


def main() -> int:
    name = f"bench_sync_{int(time.time())}_{os.getpid()}"
    dsn = f"{PG_URL}/{name}"
    work = Path(tempfile.mkdtemp(prefix="bench-sync."))
    cache = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    cache.flushdb()
    log(f"creating database {name}; logs in {work}")
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        return run(work, dsn)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        cache.flushdb()
        cache.close()


if __name__ == "__main__":
    raise SystemExit(main())
