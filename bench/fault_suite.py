"""bench/faults: the production topology under faults, and whether every side effect converges.

Each scenario runs on a fresh PostgreSQL database and a private `redis-server`, with
`loyalty serve --workers 2` and one `loyalty worker`, the stand-ins of Shopify, Klaviyo, Omnisend
and Postscript (in this process) behind a fault injector. The load is BENCH_FAULT_REQUESTS award
requests over BENCH_FAULT_CUSTOMERS customers, half of them duplicates (every (rule, customer)
pair is sent twice, in shuffled order). Then it waits until nothing is owed and every platform
shows the database's values, and prints per scenario:

- double / lost awards (a pair with two entries; a pair answered 201 with none; a balance that is
  not the sum of its entries), client-visible 5xx and connection errors;
- intents given up (dead-lettered or completed with an error);
- per platform: events sent, accepted, duplicates recorded, lost (an entry whose event the
  platform never recorded), and customers whose final value differs from the database;
- recovery: seconds from the end of the last fault until everything converged.

Scenarios (BENCH_FAULT_SCENARIOS, comma-separated; default all but long_429): clean,
worker_kills, redis_kill, pg_kills, partner_storm, long_429 (Postscript answers 429 for 12
minutes), lost_answers. See bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
from loyalty.partners.omnisend import event_id as omnisend_event_id  # noqa: E402
from standins.partners import Call, judge  # noqa: E402 - the vendors' contracts judge each call
from standins.shopify_admin import CostBucket, ShopifyAdmin  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_FAULT_REQUESTS", "3000"))
CUSTOMERS = int(os.environ.get("BENCH_FAULT_CUSTOMERS", "300"))
CONCURRENCY = int(os.environ.get("BENCH_FAULT_CONCURRENCY", "32"))
SCENARIOS = os.environ.get(
    "BENCH_FAULT_SCENARIOS",
    "clean,worker_restarts,worker_kills,redis_kill,pg_kills,partner_storm,lost_answers",
)
SYNC_DELAY = os.environ.get("BENCH_FAULT_SYNC_DELAY", "2")
CONVERGE_TIMEOUT = float(os.environ.get("BENCH_FAULT_CONVERGE_TIMEOUT", "900"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", f"{PG_URL}/postgres")
SEED = int(os.environ.get("BENCH_FAULT_SEED", "7"))
# With nothing owed and no call arriving for this long, a stale value is final.
STALE_GRACE = float(os.environ.get("BENCH_FAULT_STALE_GRACE", "60"))

SHOP = "bench-faults.myshopify.com"
SECRET_KEY = "bench-not-a-secret-0123456789abcdef"  # noqa: S105 - a throwaway key
RULE_POINTS = 10
CUSTOMER_ID_BASE = 9_300_000_000_000
PLATFORMS = ("shopify", "klaviyo", "omnisend", "postscript")
PARTNERS = PLATFORMS[1:]


def log(message: str) -> None:
    print(f"\033[1m[faults {time.strftime('%H:%M:%S')}]\033[0m {message}", file=sys.stderr)


# --------------------------------------------------------------------------- the platforms


@dataclass
class Platforms:
    """What each stand-in holds, as the real platform would after the calls it accepted."""

    limits: dict[str, Limit] = field(default_factory=published_limits)
    requests: Counter[str] = field(default_factory=Counter)  # every request that arrived
    over_limit: Counter[str] = field(default_factory=Counter)
    # Events: copies accepted per key; Klaviyo records a `unique_id` once (documented dedupe).
    event_copies: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    events_sent: Counter[str] = field(default_factory=Counter)
    # Final values the shopper or a marketing flow would see.
    metafield_points: dict[int, int] = field(default_factory=dict)  # Shopify id → points
    metafield_history: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    profile_points: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    profile_writes: Counter[str] = field(default_factory=Counter)
    # Shopify: the stand-in the tests use, judged by the pinned Admin schema, with a cost bucket
    # of 1,000 restoring 100 a second (Shopify's standard plan).
    shopify: ShopifyAdmin = field(
        default_factory=lambda: ShopifyAdmin(bucket=CostBucket(maximum=1000.0, restore=100.0))
    )
    # Requests a vendor's published contract refuses (standins.partners), per platform.
    contract_refusals: Counter[str] = field(default_factory=Counter)

    def limited(self, name: str) -> bool:
        if self.limits[name].admit(time.monotonic()):
            return False
        self.over_limit[name] += 1
        return True


def too_many(platform: str) -> Response:
    """Each platform's 429, as its documentation shows it."""
    if platform == "klaviyo":
        body = {"errors": [{"status": 429, "code": "throttled", "title": "Request was throttled."}]}
        return JSONResponse(body, status_code=429, headers={"Retry-After": "1"})
    if platform == "omnisend":
        return JSONResponse(
            {"type": "rate-limit-exceeded", "title": "Too Many Requests", "retryAfter": 1},
            status_code=429,
            media_type="application/problem+json",
        )
    return JSONResponse({"error": "Too Many Requests"}, status_code=429)


def platform_app(state: Platforms) -> Starlette:
    async def refused(platform: str, request: Request) -> Response | None:
        """The vendor's own error for a request its published contract refuses."""
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
        state.contract_refusals[platform] += 1
        return JSONResponse(refusal.body, status_code=refusal.status)

    async def klaviyo_profile(request: Request) -> Response:
        if state.limited("klaviyo profiles"):
            return too_many("klaviyo")
        if answer := await refused("klaviyo", request):
            return answer
        attributes = (await request.json())["data"]["attributes"]
        points = (attributes.get("properties") or {}).get("Loyalty Points Balance")
        state.profile_writes["klaviyo"] += 1
        if points is not None and attributes.get("email"):
            state.profile_points["klaviyo"][attributes["email"]] = int(points)
        return JSONResponse({"data": {"type": "profile", "id": "01H"}})

    async def klaviyo_event(request: Request) -> Response:
        if state.limited("klaviyo events"):
            return too_many("klaviyo")
        if answer := await refused("klaviyo", request):
            return answer
        key = (await request.json())["data"]["attributes"]["unique_id"]
        state.events_sent["klaviyo"] += 1
        state.event_copies["klaviyo"][key] = 1  # Klaviyo keeps one event per unique_id
        return Response(status_code=202)

    async def omnisend_contact(request: Request) -> Response:
        if state.limited("omnisend"):
            return too_many("omnisend")
        if answer := await refused("omnisend", request):
            return answer
        body = await request.json()
        state.profile_writes["omnisend"] += 1
        points = (body.get("customProperties") or {}).get("loyalty_points_balance")
        if points is not None:
            state.profile_points["omnisend"][body["identifiers"][0]["id"]] = int(points)
        return JSONResponse({"contactID": "60a6"})

    async def omnisend_event(request: Request) -> Response:
        if state.limited("omnisend"):
            return too_many("omnisend")
        if answer := await refused("omnisend", request):
            return answer
        body = await request.json()
        state.events_sent["omnisend"] += 1
        state.event_copies["omnisend"][body["eventID"]] += 1  # no documented dedupe: each copy
        return Response(status_code=202)

    async def postscript_lookup(request: Request) -> Response:
        if state.limited("postscript"):
            return too_many("postscript")
        if answer := await refused("postscript", request):
            return answer
        shopify_id = request.query_params.get("shopify_customer_id__eq")
        subscribers = [{"id": f"s_{shopify_id}", "properties": {}}] if shopify_id else []
        return JSONResponse(
            {"page_info": {"page": 1, "total_pages": 1}, "subscribers": subscribers}
        )

    async def postscript_patch(request: Request) -> Response:
        if state.limited("postscript"):
            return too_many("postscript")
        if answer := await refused("postscript", request):
            return answer
        body = await request.json()
        subscriber = request.path_params["subscriber"]
        state.profile_writes["postscript"] += 1
        points = (body.get("properties") or {}).get("loyalty_points_balance")
        if points is not None:
            state.profile_points["postscript"][subscriber] = int(points)
        return JSONResponse({"id": subscriber})

    async def postscript_event(request: Request) -> Response:
        if state.limited("postscript"):
            return too_many("postscript")
        if answer := await refused("postscript", request):
            return answer
        body = await request.json()
        state.events_sent["postscript"] += 1
        state.event_copies["postscript"][body["external_id"]] += 1  # no dedupe documented
        return JSONResponse({"event_ids": [body["external_id"]]}, status_code=202)

    async def shopify_graphql(request: Request) -> Response:
        """Judged by Shopify's schema first (standins.shopify_admin): a document Shopify would
        refuse gets Shopify's refusal and is counted."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        written = len(state.shopify.writes)
        status, payload = state.shopify.answer(body, version=request.path_params["version"])
        writes = state.shopify.writes[written:]
        for owner, _, key, value in writes:
            if key == "points" and owner.startswith("gid://shopify/Customer/"):
                customer = int(owner.rsplit("/", 1)[-1])
                state.metafield_points[customer] = int(value)
                state.metafield_history[customer].append(int(value))
        if writes:
            state.profile_writes["shopify"] += 1
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


# --------------------------------------------------------------------------- the faults


@dataclass(frozen=True)
class Fault:
    """Between `start` and `end` seconds after the burst began, a `share` of the requests to
    `platforms` get `mode`: "429", "500", or "drop_answer" (the platform does the work, then
    the connection closes before its answer is complete: the caller cannot know it was done)."""

    platforms: tuple[str, ...]
    mode: str
    share: float
    start: float
    end: float


class FaultInjector:
    def __init__(self, app: ASGIApp, state: Platforms) -> None:
        self.app = app
        self.state = state
        self.faults: list[Fault] = []
        self.began = time.monotonic()
        self.injected: Counter[str] = Counter()
        self._random = random.Random(SEED)

    def _fault(self, platform: str) -> Fault | None:
        elapsed = time.monotonic() - self.began
        for fault in self.faults:
            if platform in fault.platforms and fault.start <= elapsed < fault.end:
                return fault if self._random.random() < fault.share else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        platform = scope["path"].split("/")[1]
        self.state.requests[platform] += 1
        fault = self._fault(platform)
        if fault is None:
            await self.app(scope, receive, send)
            return
        self.injected[f"{platform} {fault.mode}"] += 1
        if fault.mode == "429":
            await (too_many(platform) if platform != "shopify" else _throttled())(
                scope, receive, send
            )
        elif fault.mode == "500":
            await Response("upstream failure", status_code=500)(scope, receive, send)
        else:  # drop_answer: do the work, answer half a response, then drop the connection

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"4096")],
                }
            )
            raise ConnectionAbortedError("fault injector: answer dropped")


def _throttled() -> Response:
    return JSONResponse(
        {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {
                "cost": {
                    "requestedQueryCost": 10,
                    "throttleStatus": {
                        "maximumAvailable": 1000.0,
                        "currentlyAvailable": 0,
                        "restoreRate": 100.0,
                    },
                }
            },
        }
    )


# --------------------------------------------------------------------------- the topology


@dataclass
class Topology:
    """The processes of one scenario; restarts keep their ports and logs."""

    work: Path
    env: dict[str, str]
    web_port: int
    redis_port: int
    redis: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    worker_exits: list[int] = field(default_factory=list)

    def _log(self, name: str) -> Any:
        return (self.work / f"{name}.log").open("ab")

    def start_redis(self) -> None:
        command = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.redis = subprocess.Popen(command, stdout=self._log("redis"), stderr=subprocess.STDOUT)
        for _ in range(100):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.redis_port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def start_web(self) -> None:
        command = [str(BIN / "loyalty"), "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.web_port), "--workers", "2"]
        self.web = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self._log("web"), stderr=subprocess.STDOUT
        )

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [str(BIN / "loyalty"), "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log("worker"),
            stderr=subprocess.STDOUT,
        )

    def worker_alive(self) -> bool:
        if self.worker is None:
            return False
        code = self.worker.poll()
        if code is None:
            return True
        self.worker_exits.append(code)
        self.worker = None
        return False

    def kill_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()
        self.worker = None

    def wait_worker_polling(self, timeout: float = 60.0) -> bool:
        """Until the worker has started and polls the queue (arq writes its health-check key
        then, and deletes it when it stops): a SIGTERM before that only interrupts imports."""
        import redis

        client = redis.Redis(port=self.redis_port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.RedisError):
                    if client.exists("arq:queue:health-check"):
                        return True
                time.sleep(0.2)
            return False
        finally:
            client.close()

    def stop_worker(self) -> float:
        """SIGTERM, as a supervisor stops a worker (a deploy, systemd's restart): returns the
        seconds it took to drain and exit."""
        began = time.monotonic()
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            self.worker.wait()
        self.worker = None
        return time.monotonic() - began

    def kill_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()
        self.redis = None

    def stop_all(self) -> None:
        for process in (self.web, self.worker, self.redis):
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def environment(work: Path, dsn: str, stub: str, redis_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
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
        "OUTBOX_SWEEP_INTERVAL": "5",
        "API_AWARD_RATE_LIMIT": "100000",
        "API_AWARD_RATE_BURST": "100000",
    }


async def admin_execute(statement: str, *args: Any) -> Any:
    conn = await asyncpg.connect(pg_dsn(PG_ADMIN_URL))
    try:
        return await conn.execute(statement, *args)
    finally:
        await conn.close()


async def seed(dsn: str) -> tuple[list[str], list[str]]:
    """The connected shop with all three platforms, the rules and the customers."""
    from loyalty import ids
    from loyalty.db import close_db, init_db
    from loyalty.models import Customer, EarningRule, Integration, Platform, RuleCategory, Shop

    box = SecretBox(SECRET_KEY)
    now = datetime.now(UTC)
    await init_db(dsn)
    try:
        shop = await Shop.create(
            domain=SHOP,
            name="Bench faults",
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
        for n in range(max(1, REQUESTS // (2 * CUSTOMERS))):
            rule = await EarningRule.create(
                shop=shop,
                public_id=ids.new_public_id(ids.RULE),
                name=f"Fault action {n}",
                action=f"fault_action_{n}",
                category=RuleCategory.SOCIAL,
                points=RULE_POINTS,
                is_active=True,
                approval_time_days=0,
            )
            rules.append(rule.public_id)
        emails = [f"faults{n}@example.com" for n in range(1, CUSTOMERS + 1)]
        await Customer.bulk_create(
            [
                Customer(
                    shop=shop,
                    shopify_customer_id=CUSTOMER_ID_BASE + n,
                    email=email,
                    email_key=email,
                    first_name="Fault",
                    last_name="Bench",
                )
                for n, email in enumerate(emails, 1)
            ]
        )
        return rules, emails
    finally:
        await close_db()


# --------------------------------------------------------------------------- the load


@dataclass
class Answers:
    statuses: Counter[int | str] = field(default_factory=Counter)
    created: set[tuple[str, int]] = field(default_factory=set)  # pairs answered 201
    seconds: float = 0.0


async def drive(port: int, key: str, rules: list[str], emails: list[str]) -> Answers:
    """Every (rule, customer) pair twice, shuffled, CONCURRENCY in flight; each request is
    retried by nobody: what a client sees is what is counted."""
    pairs = [(rule, n) for rule in rules for n in range(len(emails))]
    plan = pairs + pairs
    random.Random(SEED).shuffle(plan)
    plan = plan[:REQUESTS]
    answers = Answers()
    queue = iter(plan)
    started = time.monotonic()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": key}, timeout=30
    ) as http:

        async def lane() -> None:
            for rule, n in queue:
                try:
                    response = await http.post(
                        f"/api/v1/earning-rules/{rule}/award",
                        json={"customer_identifier": emails[n]},
                    )
                except httpx.HTTPError as exc:
                    answers.statuses[type(exc).__name__] += 1
                    continue
                answers.statuses[response.status_code] += 1
                if response.status_code == 201:
                    answers.created.add((rule, n))

        await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    answers.seconds = time.monotonic() - started
    return answers


# --------------------------------------------------------------------------- the scenarios

FaultStep = Callable[["Run"], Awaitable[None]]


@dataclass
class Scenario:
    name: str
    faults: list[Fault] = field(default_factory=list)  # partner faults, by time
    during: FaultStep | None = None  # process faults, run beside the burst
    what: str = ""


@dataclass
class Run:
    scenario: Scenario
    topology: Topology
    dsn: str
    faults_over_at: float = 0.0  # monotonic time the last fault ended


async def worker_kills(run: Run) -> None:
    """Ten SIGKILLs of the worker, 4 s apart from 1 s into the burst; each time a supervisor
    starts it again at once."""
    for _ in range(10):
        await asyncio.sleep(4)
        run.topology.kill_worker()
        run.topology.start_worker()
    run.faults_over_at = time.monotonic()


async def worker_restarts(run: Run) -> None:
    """Ten graceful restarts (SIGTERM, as a deploy or `systemctl restart` does), 4 s apart from
    1 s into the burst: the worker stops taking jobs, its sync runs end between customers, it
    exits, and the supervisor starts it again. Each stop comes 4 s after the worker began
    polling, so it lands on a worker at work, not on one still starting."""
    for _ in range(10):
        await asyncio.to_thread(run.topology.wait_worker_polling)
        await asyncio.sleep(4)
        took = await asyncio.to_thread(run.topology.stop_worker)
        log(f"worker stopped on SIGTERM in {took:.1f} s; starting it again")
        run.topology.start_worker()
    run.faults_over_at = time.monotonic()


async def redis_kill(run: Run) -> None:
    """Redis dies 2 s into the burst and comes back 20 s later on the same port (empty: it
    keeps nothing on disk). The worker is NOT restarted: it must ride the outage out."""
    await asyncio.sleep(2)
    run.topology.kill_redis()
    await asyncio.sleep(20)
    run.topology.start_redis()
    run.faults_over_at = time.monotonic()


async def pg_kills(run: Run) -> None:
    """Every backend of the app's database terminated three times, 1.5 s apart."""
    name = run.dsn.rsplit("/", 1)[-1]
    for _ in range(3):
        await asyncio.sleep(1.5)
        await admin_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    run.faults_over_at = time.monotonic()


SCENARIO_TABLE = {
    "clean": Scenario("clean", what="no fault"),
    "worker_kills": Scenario("worker_kills", during=worker_kills, what="10 worker SIGKILLs"),
    "worker_restarts": Scenario(
        "worker_restarts", during=worker_restarts, what="10 worker restarts (SIGTERM)"
    ),
    "redis_kill": Scenario("redis_kill", during=redis_kill, what="Redis down 20 s"),
    "pg_kills": Scenario("pg_kills", during=pg_kills, what="3 × every backend terminated"),
    "partner_storm": Scenario(
        "partner_storm",
        faults=[
            Fault(PLATFORMS, "429", 1.0, 0, 45),
            Fault(PLATFORMS, "500", 0.5, 45, 90),
        ],
        what="45 s of 429 everywhere, then 45 s of 50 % 500",
    ),
    "long_429": Scenario(
        "long_429",
        faults=[Fault(("postscript",), "429", 1.0, 0, 720)],
        what="Postscript answers 429 for 12 minutes",
    ),
    "lost_answers": Scenario(
        "lost_answers",
        faults=[Fault(PLATFORMS, "drop_answer", 0.5, 0, 60)],
        what="half the answers dropped for 60 s (the work was done)",
    ),
}


# --------------------------------------------------------------------------- the checks


@dataclass
class Outcome:
    name: str
    what: str
    answers: Answers
    double_awards: int = 0
    lost_awards: int = 0
    balance_mismatches: int = 0
    given_up: int = 0
    pending: int = 0
    events_sent: dict[str, int] = field(default_factory=dict)
    events_accepted: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    events_lost: dict[str, int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    profile_writes: dict[str, int] = field(default_factory=dict)
    contract_refusals: dict[str, int] = field(default_factory=dict)
    worker_exits: int = 0
    recovery: float | None = None
    injected: dict[str, int] = field(default_factory=dict)

    @property
    def server_errors(self) -> int:
        return sum(
            count
            for status, count in self.answers.statuses.items()
            if isinstance(status, str) or status >= 500
        )


async def database_view(dsn: str) -> dict[str, Any]:
    for attempt in range(10):  # the bench's own reads must not die with a busy server
        try:
            return await _database_view(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log(f"reading the database failed ({exc}); again in a moment")
            await asyncio.sleep(1 + attempt)
    return await _database_view(dsn)


async def _database_view(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(pg_dsn(dsn))
    try:
        columns = {
            row["column_name"]
            for row in await conn.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'outbox_intent'"
            )
        }
        dead = "dead_at IS NOT NULL" if "dead_at" in columns else "FALSE"
        given_up = await conn.fetchval(
            f"SELECT count(*) FROM outbox_intent WHERE completed_at IS NOT NULL "
            f"AND ({dead} OR last_error IS NOT NULL)"
        )
        pending = await conn.fetchval(
            "SELECT count(*) FROM outbox_intent WHERE completed_at IS NULL"
        )
        customers = await conn.fetch(
            "SELECT c.id, c.shopify_customer_id, c.email, c.points_balance, "
            "COALESCE(sum(e.points) FILTER (WHERE e.status = 'approved'), 0) AS entries "
            "FROM customer c LEFT JOIN earning_history_entry e ON e.customer_id = c.id "
            "GROUP BY c.id"
        )
        doubles = await conn.fetchval(
            "SELECT count(*) FROM (SELECT customer_id, dedupe_key FROM earning_history_entry "
            "GROUP BY customer_id, dedupe_key HAVING count(*) > 1) d"
        )
        entries = await conn.fetch(
            "SELECT e.public_id, r.public_id AS rule, c.email FROM earning_history_entry e "
            "JOIN earning_rule r ON r.id = e.rule_id JOIN customer c ON c.id = e.customer_id"
        )
        # What the app recorded of each event it sent: a lost event is explained by it.
        recorded = await conn.fetch(
            "SELECT d.platform, d.event_key, d.status, d.intent_id, d.at, i.outcome, "
            "i.outcome_detail, i.last_error FROM event_delivery d "
            "LEFT JOIN outbox_intent i ON i.id = d.intent_id"
        )
    finally:
        await conn.close()
    return {
        "given_up": int(given_up),
        "pending": int(pending),
        "customers": [dict(row) for row in customers],
        "doubles": int(doubles),
        "entries": [dict(row) for row in entries],
        "recorded": {(row["platform"], row["event_key"]): dict(row) for row in recorded},
    }


def stale_counts(view: dict[str, Any], state: Platforms) -> dict[str, int]:
    stale: Counter[str] = Counter()
    for customer in view["customers"]:
        balance = customer["points_balance"]
        shopify_id = customer["shopify_customer_id"]
        if balance == 0 and shopify_id not in state.metafield_points:
            continue  # never awarded: nothing owed anywhere
        if state.metafield_points.get(shopify_id) != balance:
            stale["shopify"] += 1
        if state.profile_points["klaviyo"].get(customer["email"]) != balance:
            stale["klaviyo"] += 1
        if state.profile_points["omnisend"].get(customer["email"]) != balance:
            stale["omnisend"] += 1
        if state.profile_points["postscript"].get(f"s_{shopify_id}") != balance:
            stale["postscript"] += 1
    return {platform: stale[platform] for platform in PLATFORMS}


async def converge(run: Run, state: Platforms) -> tuple[dict[str, Any], float | None]:
    """Wait until nothing is owed and every platform shows the database, or the timeout.
    A worker that died is restarted once every fault is over, as a supervisor would."""
    started = time.monotonic()
    last_seen: tuple[Any, ...] = ()
    settled_at = started
    while True:
        if not run.topology.worker_alive() and time.monotonic() >= run.faults_over_at:
            log("the worker is not running: starting it again (as a supervisor would)")
            run.topology.start_worker()
        view = await database_view(run.dsn)
        stale = stale_counts(view, state)
        if view["pending"] == 0 and not any(stale.values()):
            return view, max(0.0, time.monotonic() - max(run.faults_over_at, started))
        seen = (view["pending"], tuple(stale.values()), sum(state.requests.values()))
        if seen != last_seen:
            last_seen, settled_at = seen, time.monotonic()
        # Nothing owed, nothing moving, and still not showing the database: it stays wrong
        # until the customer's next change.
        settled = view["pending"] == 0 and time.monotonic() - settled_at > STALE_GRACE
        if settled or time.monotonic() - started > CONVERGE_TIMEOUT:
            return view, None
        await asyncio.sleep(1.0)


def account(outcome: Outcome, view: dict[str, Any], state: Platforms, rules: list[str]) -> None:
    emails_by_index = {f"faults{n + 1}@example.com": n for n in range(CUSTOMERS)}
    awarded = {(row["rule"], emails_by_index.get(row["email"], -1)) for row in view["entries"]}
    outcome.double_awards = view["doubles"]
    outcome.lost_awards = len(outcome.answers.created - awarded)
    outcome.balance_mismatches = sum(
        1 for c in view["customers"] if c["points_balance"] != c["entries"]
    )
    outcome.given_up = view["given_up"]
    outcome.pending = view["pending"]
    expected = [f"loyalty:points_earned:{row['public_id']}" for row in view["entries"]]
    keys = {
        "klaviyo": expected,
        "omnisend": [omnisend_event_id(key) for key in expected],
        "postscript": expected,
    }
    for platform in PARTNERS:
        copies = state.event_copies[platform]
        outcome.events_sent[platform] = state.events_sent[platform]
        outcome.events_accepted[platform] = sum(copies.values())
        outcome.duplicates[platform] = sum(max(0, n - 1) for n in copies.values())
        lost = [key for key in keys[platform] if key not in copies]
        outcome.events_lost[platform] = len(lost)
        for key in lost:  # what the app believes happened to it, to explain the loss
            log(f"{platform} never received {key}; recorded: {recorded(view, platform, key)}")
    outcome.stale = stale_counts(view, state)
    outcome.profile_writes = dict(state.profile_writes)
    outcome.contract_refusals = {
        **dict(state.contract_refusals),
        "shopify": len(state.shopify.rejected),
    }


def recorded(view: dict[str, Any], platform: str, key: str) -> Any:
    sent_as = key if platform != "omnisend" else None
    for (where, event_key), row in view["recorded"].items():
        if where == platform and (event_key == sent_as or omnisend_event_id(event_key) == key):
            return row
    return "nothing (never sent, or sent and never recorded)"


async def run_scenario(scenario: Scenario) -> Outcome:
    name = f"bench_faults_{scenario.name}_{uuid.uuid4().hex[:8]}"
    dsn = f"{PG_URL}/{name}"
    work = Path(tempfile.mkdtemp(prefix=f"bench-faults-{scenario.name}."))
    await admin_execute(f'CREATE DATABASE "{name}"')
    stub_port, redis_port, web_port = free_port(), free_port(), free_port()
    env = environment(work, dsn, f"http://127.0.0.1:{stub_port}", redis_port)
    topology = Topology(work, env, web_port, redis_port)
    state = Platforms()
    injector = FaultInjector(platform_app(state), state)
    server = uvicorn.Server(
        uvicorn.Config(injector, host="127.0.0.1", port=stub_port, log_level="critical")
    )
    serving = asyncio.create_task(server.serve())
    log(f"{scenario.name}: {scenario.what}; logs in {work}")
    try:
        await asyncio.to_thread(
            subprocess.run, [BIN / "loyalty", "migrate"], env=env, check=True, capture_output=True
        )
        rules, emails = await seed(dsn)
        created = await asyncio.to_thread(
            subprocess.run,
            [BIN / "loyalty", "api-key", "create", "--shop", SHOP],
            env=env,
            check=True,
            capture_output=True,
        )
        key = created.stdout.decode().strip()
        topology.start_redis()
        topology.start_web()
        topology.start_worker()
        await wait_ready(f"http://127.0.0.1:{web_port}/readyz")
        run = Run(scenario, topology, dsn)
        injector.faults = scenario.faults
        injector.began = time.monotonic()
        during = asyncio.create_task(scenario.during(run)) if scenario.during else None
        answers = await drive(web_port, key, rules, emails)
        if during is not None:
            await during  # it sets faults_over_at when its last fault ends
        elif scenario.faults:
            run.faults_over_at = injector.began + max(f.end for f in scenario.faults)
        else:
            run.faults_over_at = time.monotonic()  # recovery from the end of the burst
        log(f"{scenario.name}: burst done in {answers.seconds:.1f} s; waiting to converge")
        view, recovery = await converge(run, state)
        outcome = Outcome(scenario.name, scenario.what, answers, recovery=recovery)
        account(outcome, view, state, rules)
        outcome.worker_exits = len(topology.worker_exits)
        outcome.injected = dict(injector.injected)
        return outcome
    finally:
        topology.stop_all()
        server.should_exit = True
        await serving
        await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url, timeout=1)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


# --------------------------------------------------------------------------- the report


def render(outcomes: list[Outcome]) -> str:
    rule = "=" * 118
    lines = [
        rule,
        f"bench/faults  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  host "
        f"{socket.gethostname()} ({os.cpu_count()} cores)  PostgreSQL + private Redis, "
        f"`loyalty serve --workers 2` + 1 `loyalty worker`",
        f"{REQUESTS} award requests over {CUSTOMERS} customers, half duplicates; "
        f"MARKETING_SYNC_DELAY={SYNC_DELAY} s",
        rule,
    ]
    header = (
        f"{'scenario':<16}{'double':>7}{'lost':>6}{'5xx':>6}{'given up':>10}{'pending':>9}"
        f"{'worker exits':>14}{'recovery':>10}"
    )
    lines.append(header)
    for o in outcomes:
        recovery = "never" if o.recovery is None else f"{o.recovery:.1f} s"
        lines.append(
            f"{o.name:<16}{o.double_awards:>7}{o.lost_awards:>6}{o.server_errors:>6}"
            f"{o.given_up:>10}{o.pending:>9}{o.worker_exits:>14}{recovery:>10}"
        )
    lines.append("")
    lines.append(
        f"{'scenario':<16}{'platform':<11}{'events sent':>12}{'accepted':>10}{'duplicates':>11}"
        f"{'lost':>6}{'stale values':>14}{'profile writes':>16}"
    )
    for o in outcomes:
        for platform in PLATFORMS:
            if platform == "shopify":
                lines.append(
                    f"{o.name:<16}{platform:<11}{'-':>12}{'-':>10}{'-':>11}{'-':>6}"
                    f"{o.stale.get(platform, 0):>14}{o.profile_writes.get(platform, 0):>16}"
                )
                continue
            lines.append(
                f"{o.name:<16}{platform:<11}{o.events_sent.get(platform, 0):>12}"
                f"{o.events_accepted.get(platform, 0):>10}{o.duplicates.get(platform, 0):>11}"
                f"{o.events_lost.get(platform, 0):>6}{o.stale.get(platform, 0):>14}"
                f"{o.profile_writes.get(platform, 0):>16}"
            )
    lines.append("")
    for o in outcomes:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(o.answers.statuses.items(), key=str))
        injected = ", ".join(f"{k}: {v}" for k, v in sorted(o.injected.items())) or "none"
        refusals = sum(o.contract_refusals.values())
        lines.append(
            f"{o.name}: answers {statuses}; faults injected {injected}; "
            f"requests a vendor's contract refuses {refusals}"
        )
    return "\n".join(lines)


def problems(outcomes: list[Outcome]) -> list[str]:
    found = []
    for o in outcomes:
        counts = {
            "double awards": o.double_awards,
            "lost awards": o.lost_awards,
            "client-visible 5xx": o.server_errors,
            "intents given up": o.given_up,
            "intents still pending": o.pending,
            "balances not the sum of entries": o.balance_mismatches,
            "worker exits": o.worker_exits,
            **{f"{p} duplicate events": n for p, n in o.duplicates.items()},
            **{f"{p} events lost": n for p, n in o.events_lost.items()},
            **{f"{p} stale values": n for p, n in o.stale.items()},
            **{f"{p} requests its contract refuses": n for p, n in o.contract_refusals.items()},
        }
        found += [f"{o.name}: {n} {what}" for what, n in counts.items() if n]
        if o.recovery is None:
            found.append(f"{o.name}: did not converge within {CONVERGE_TIMEOUT:.0f} s")
    return found


def main() -> int:
    names = [name.strip() for name in SCENARIOS.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIO_TABLE]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIO_TABLE)}")
    outcomes = []
    for name in names:
        outcomes.append(asyncio.run(run_scenario(SCENARIO_TABLE[name])))
        print(render(outcomes[-1:]), file=sys.stderr)
    print(render(outcomes))
    found = problems(outcomes)
    print("every count is 0" if not found else "PROBLEMS:\n  " + "\n  ".join(found))
    json_path = os.environ.get("BENCH_FAULT_JSON")
    if json_path:
        Path(json_path).write_text(
            json.dumps(
                [o.__dict__ | {"answers": dict(o.answers.statuses)} for o in outcomes],
                default=str,
                indent=2,
            )
        )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
