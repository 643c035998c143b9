"""The figures bench/scale times: what each one calls, its target, and the bench's handle on the
app (`Bench`: an HTTP client bound to the in-process app, the seeded shop, the day counter)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import scale_plans
import scale_seed

PAGE_MS = 100.0  # every admin page and API list, server time
JOB_MS = 60_000.0  # every daily job
APP_KEY = "bench-scale-client"
APP_SECRET = "bench-scale-app-secret-0123456789abcdef"  # noqa: S105 - a throwaway bench app
SECRET_KEY = "bench-scale-secret-key-0123456789abcdef"  # noqa: S105 - a throwaway bench app


@dataclass
class Figure:
    name: str
    target_ms: float
    run: Callable[[int], Awaitable[str]]  # run number → a note on the work done
    repeat_safe: bool = True  # a read: warm up once, then time `runs` runs
    times: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plans: list[scale_plans.Plan] = field(default_factory=list)
    statements: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times)


class Bench:
    def __init__(self, seed: dict[str, Any], client: Any, dsn: str) -> None:
        self.seed, self.client, self.dsn = seed, client, dsn
        self.domain = seed["shop_domain"]
        self.shop_id = int(seed["shop_id"])
        self.seed_now = datetime.fromisoformat(seed["now"])

    async def get(self, path: str, *, admin: bool = False, api: bool = False) -> str:
        headers = {}
        if api:
            headers["Authorization"] = self.seed["api_key"]
        if admin:
            token = scale_seed.admin_bearer(self.domain, secret=APP_SECRET, api_key=APP_KEY)
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return f"{len(response.content) // 1024} KB"

    async def document(self, path: str, query: str = "") -> str:
        token = scale_seed.admin_bearer(self.domain, secret=APP_SECRET, api_key=APP_KEY)
        sep = "&" if query else ""
        full = f"{path}?{query}{sep}shop={self.domain}&host=x&embedded=1&id_token={token}"
        response = await self.client.get(full)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return f"{len(response.content) // 1024} KB"

    async def cold_home(self) -> str:
        """The home page as the first read after the shop's ledger rollup starts (an upgrade,
        or a timezone change moving the window back): the window summed from the ledger."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute("DELETE FROM ledger_rollup_state WHERE shop_id = $1", self.shop_id)
        finally:
            await conn.close()
        return await self.document("/app")

    async def patch(self, path: str, body: dict[str, Any]) -> None:
        token = scale_seed.admin_bearer(self.domain, secret=APP_SECRET, api_key=APP_KEY)
        response = await self.client.patch(
            path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code not in (200, 204):
            raise RuntimeError(f"PATCH {path}: {response.status_code} {response.text[:300]}")

    async def day(self, job: str) -> tuple[int, datetime]:
        """A day (offset from the seed's `now`, and that moment) no earlier run of `job` on
        this database used, so every run finds a day's work."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_scale_days (job text PRIMARY KEY, used int)"
            )
            used = await conn.fetchval(
                "INSERT INTO bench_scale_days VALUES ($1, 0) ON CONFLICT (job) DO UPDATE "
                "SET used = bench_scale_days.used + 1 RETURNING used",
                job,
            )
        finally:
            await conn.close()
        return int(used), self.seed_now + timedelta(days=int(used))


def build(bench: Bench) -> list[Figure]:
    """Every figure, reads first (they see the seeded state), then the jobs."""
    return [*_admin_pages(bench), *_public_api(bench), *_jobs(bench)]


def _read(name: str, call: Callable[[], Awaitable[str]]) -> Figure:
    async def run(_: int) -> str:
        return await call()

    return Figure(name, PAGE_MS, run)


def _admin_pages(b: Bench) -> list[Figure]:
    whale, sample = b.seed["whale_shopify_id"], b.seed["sample_shopify_id"]
    local = b.seed["sample_email"].split("@")[0]
    broad = local.split(".")[0] + "."
    pages = [
        ("admin home /app (30-day figures, chart)", "/app", ""),
        ("admin /app/customers", "/app/customers", ""),
        ("admin /app/customers search email prefix (broad)", "/app/customers", f"search={broad}"),
        ("admin /app/customers search email prefix", "/app/customers", f"search={local}"),
        ("admin /app/customers search Shopify id", "/app/customers", f"search={sample}"),
        ("admin /app/customers/<whale>", f"/app/customers/{whale}", ""),
        ("admin /app/customers/<customer>", f"/app/customers/{sample}", ""),
        ("admin /app/tiers", "/app/tiers", ""),
        ("admin /app/rules", "/app/rules", ""),
        ("admin /app/rewards", "/app/rewards", ""),
        ("admin /app/settings", "/app/settings", ""),
    ]
    figures = [_read(name, partial(b.document, path, query)) for name, path, query in pages]
    figures.insert(1, _read("admin home /app, rollup cold (its first read)", b.cold_home))
    api = [
        ("admin api /app/api/dashboard", "/app/api/dashboard"),
        ("admin api customers search email prefix", f"/app/api/customers?search={local}"),
        ("admin api customers search Shopify id", f"/app/api/customers?search={sample}"),
        (
            "admin api tier preview (Gold at 1200)",
            "/app/api/vip-tiers/preview?tier_id=tier_scale_gold&points_required=1200",
        ),
    ]
    figures += [_read(name, partial(b.get, path, admin=True)) for name, path in api]
    return figures


def _public_api(b: Bench) -> list[Figure]:
    whale, sample = b.seed["whale_shopify_id"], b.seed["sample_shopify_id"]
    local = b.seed["sample_email"].split("@")[0]
    paths = [
        (f"GET /api/v1/customers sort={sort}", f"/api/v1/customers?sort={sort}")
        for field_name in ("created_at", "points", "lifetime_points", "redeemed_points")
        for sort in (f"-{field_name}", field_name)
    ]
    paths += [
        ("GET /api/v1/customers filter[email]", f"/api/v1/customers?filter[email]={local}"),
        (
            "GET /api/v1/customers filter[loyalty_status]=member",
            "/api/v1/customers?filter[loyalty_status]=member",
        ),
        (
            "GET /api/v1/customers filter[loyalty_status]=excluded",
            "/api/v1/customers?filter[loyalty_status]=excluded",
        ),
        ("GET /api/v1/customers/<customer>", f"/api/v1/customers/{sample}"),
        ("earning history <customer> page 1", f"/api/v1/customers/{sample}/earning-history"),
        ("earning history <whale> page 1", f"/api/v1/customers/{whale}/earning-history"),
        (
            "earning history <whale> page 500",
            f"/api/v1/customers/{whale}/earning-history?page[number]=500",
        ),
    ]
    return [_read(name, partial(b.get, path, api=True)) for name, path in paths]


def _jobs(b: Bench) -> list[Figure]:
    from loyalty.clock import utcnow
    from loyalty.customers import compliance
    from loyalty.lifecycle import approvals, expiry, occasions
    from loyalty.models import Shop
    from loyalty.tiers import placement

    async def birthdays(_: int) -> str:
        day, now = await b.day("occasions")
        run = await occasions.award_occasions(shop_id=b.shop_id, now=now)
        return f"day +{day}: {run.done:,} awarded"

    async def expire(_: int) -> str:
        day, now = await b.day("expiry")
        expired = await _drain(lambda: expiry.expire_due(shop_id=b.shop_id, now=now))
        notices = await _drain(lambda: expiry.notify_expiring_soon(shop_id=b.shop_id, now=now))
        rounds = f"{expired[1]}+{notices[1]} rounds"
        return f"day +{day}: {expired[0]:,} lots expired, {notices[0]:,} notices ({rounds})"

    async def approve(_: int) -> str:
        day, now = await b.day("approvals")
        done, rounds = await _drain(lambda: approvals.approve_due(shop_id=b.shop_id, now=now))
        return f"day +{day}: {done:,} approved ({rounds} rounds)"

    async def tier_change(n: int) -> str:
        points = 1200 if n % 2 == 0 else 1500
        began = time.perf_counter()
        await b.patch("/app/api/vip-tiers/tier_scale_gold", {"points_required": points})
        answered = (time.perf_counter() - began) * 1000
        placed = await placement.place_tiers(shop_id=b.shop_id)  # the job the PATCH queued
        return (
            f"Gold threshold → {points}: PATCH answered in {answered:.0f} ms, "
            f"the job moved {placed.customers_moved:,}"
        )

    async def export(_: int) -> str:
        shop = await Shop.get(id=b.shop_id)
        request = await compliance.export_customer_data(
            shop=shop,
            shopify_customer_id=int(b.seed["sample_shopify_id"]),
            email=None,
            shopify_request_id=None,
            orders_requested=[],
            now=utcnow(),
        )
        return f"{len(request.record['earning_history'])} entries"

    async def redact(_: int) -> str:
        day, _now = await b.day("redact")
        shop = await Shop.get(id=b.shop_id)
        number = int(b.seed["sample_shopify_id"]) + 7 * (day + 1)
        done = await compliance.redact_customer(
            shop=shop, shopify_customer_id=number, email=None, now=utcnow()
        )
        return f"customer {done.customer_id}"

    return [
        Figure("job: birthdays and anniversaries (a day)", JOB_MS, birthdays, repeat_safe=False),
        Figure("job: expiry sweep + notices (a day)", JOB_MS, expire, repeat_safe=False),
        Figure("job: approval sweep (a day)", JOB_MS, approve, repeat_safe=False),
        Figure(
            "tier recalculation (Gold threshold change)", JOB_MS, tier_change, repeat_safe=False
        ),
        Figure("compliance export of one customer", JOB_MS, export),
        Figure("compliance redact of one customer", JOB_MS, redact, repeat_safe=False),
    ]


async def _drain(round_: Callable[[], Awaitable[Any]]) -> tuple[int, int]:
    """Run a batched lifecycle use case until it says nothing is left: (items, rounds)."""
    done = rounds = 0
    while True:
        run = await round_()
        done, rounds = done + run.done, rounds + 1
        if not run.more:
            return done, rounds
