"""bench/scale: a big shop stays fast. Seeds (or reuses) a big shop (bench/scale_seed.py), then
times, through the app's own code, every figure issue 18 names, and prints each one's median
against its target with the query plans of the SQL the app sent.

Reads go through the real ASGI app in this process (`create_app`, lifespan running, the same
credentials checks, serialization and templates as a served request; no network, so the time
is the server's); jobs call the use cases their jobs run, round after round until nothing is
left, as the follow-up rounds would. Each job run works on its own day (the seed's `now` plus
a day counter kept in the database), so a run is real work, never a repeat that finds nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale_figures  # noqa: E402
import scale_plans  # noqa: E402
import scale_seed  # noqa: E402
from scale_figures import APP_KEY, APP_SECRET, SECRET_KEY, Bench, Figure  # noqa: E402


async def measure(bench: Bench, figure: Figure, runs: int, job_runs: int) -> None:
    if figure.repeat_safe:
        with scale_plans.capture() as found:
            await figure.run(0)  # warm-up, and the statements to explain
        for n in range(runs):
            began = time.perf_counter()
            figure.notes.append(await figure.run(n + 1))
            figure.times.append((time.perf_counter() - began) * 1000)
    else:
        for n in range(job_runs):
            with scale_plans.capture() if n == 0 else _nothing() as captured:
                began = time.perf_counter()
                figure.notes.append(await figure.run(n))
                figure.times.append((time.perf_counter() - began) * 1000)
            if n == 0:
                found = captured
    figure.statements = found.total
    figure.plans = await scale_plans.explain(bench.dsn, found)


class _nothing:
    def __enter__(self) -> scale_plans.Capture:
        return scale_plans.Capture()

    def __exit__(self, *exc: object) -> None:
        return None


def report(figures: list[Figure], header: str) -> str:
    lines = [header, ""]
    width = max(len(f.name) for f in figures) + 2
    lines.append(f"{'figure':<{width}}{'median ms':>12}{'target':>10}  met?  statements  work")
    for f in figures:
        target = f"{f.target_ms / 1000:.0f} s" if f.target_ms >= 1000 else f"{f.target_ms:.0f} ms"
        met = "yes" if f.median <= f.target_ms else "NO"
        lines.append(
            f"{f.name:<{width}}{f.median:>12.1f}{target:>10}  {met:<4}  {f.statements:>10}  "
            f"{f.notes[-1] if f.notes else ''}"
        )
    lines.append("")
    lines.append("heaviest statement per figure (EXPLAIN ANALYZE ms × times sent, top plan node):")
    for f in figures:
        if f.plans:
            p = f.plans[0]
            ms = f"{p.execution_ms:.1f}" if p.execution_ms is not None else "?"
            lines.append(f"  {f.name}: {ms} ms × {p.count}  {scale_plans.top_node(p)}")
    return "\n".join(lines)


def plans_text(figures: list[Figure]) -> str:
    out = []
    for f in figures:
        out.append(f"=== {f.name}: median {f.median:.1f} ms, runs {[round(t, 1) for t in f.times]}")
        for p in f.plans:
            out.append(f"--- sent {p.count}×: {p.sql}\n{p.text}\n")
    return "\n".join(out)


async def main() -> int:
    dsn = os.environ.get("BENCH_SCALE_URL", "postgres://postgres@127.0.0.1:5432/bench_scale")
    customers = int(os.environ.get("BENCH_SCALE_CUSTOMERS", 1_000_000))
    entries = int(os.environ.get("BENCH_SCALE_ENTRIES", 10_000_000))
    keep = os.environ.get("BENCH_SCALE_KEEP") == "1"
    runs = int(os.environ.get("BENCH_SCALE_RUNS", 5))
    job_runs = int(os.environ.get("BENCH_SCALE_JOB_RUNS", 3))
    only = [w for w in os.environ.get("BENCH_SCALE_ONLY", "").split(",") if w]
    redis_url = os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/8")
    print(
        f"bench/scale: {customers:,} customers, {entries:,} entries on {dsn.rsplit('/', 1)[-1]}"
        f"{' (kept)' if keep else ''}",
        flush=True,
    )
    seed = await scale_seed.seed_big_shop(dsn, customers=customers, entries=entries, keep=keep)
    seeded = "reused" if seed["reused"] else f"{seed['seed_seconds']} s {seed['timings']}"
    print(f"seed: {seeded}", flush=True)
    try:
        figures = await _measure_all(seed, dsn, redis_url, runs, job_runs, only)
    finally:
        if not keep:
            await scale_seed.drop_database(dsn)
    write_out(seed, figures, runs, job_runs)
    return 0


async def _measure_all(
    seed: dict[str, Any], dsn: str, redis_url: str, runs: int, job_runs: int, only: list[str]
) -> list[Figure]:
    import httpx
    import redis.asyncio as aioredis
    from asgi_lifespan import LifespanManager

    from loyalty.crypto import SecretBox
    from loyalty.models import Shop
    from loyalty.settings import Settings
    from loyalty.shops.demo_mode import connect_demo_shop
    from web.app import create_app

    await aioredis.from_url(redis_url).flushdb()
    settings = Settings(
        database_url=dsn,
        redis_url=redis_url,
        shopify_api_key=APP_KEY,
        shopify_api_secret=APP_SECRET,
        secret_key=SECRET_KEY,
        outbox_sweep_interval=3600,
        api_rate_limit=1e9,
        api_rate_burst=10**9,
        admin_api_rate_limit=1e9,
        admin_api_burst=10**9,
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        shop = await Shop.get(id=seed["shop_id"])
        await connect_demo_shop(shop, SecretBox(SECRET_KEY))  # a stored token: no install
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bench.local") as client:
            bench = Bench(seed, client, dsn)
            figures = [
                f for f in scale_figures.build(bench) if not only or any(w in f.name for w in only)
            ]
            for figure in figures:
                print(f"  {figure.name} …", end="", flush=True)
                await measure(bench, figure, runs, job_runs)
                print(f" {figure.median:.1f} ms", flush=True)
    await aioredis.from_url(redis_url).flushdb()
    return figures


def write_out(seed: dict[str, Any], figures: list[Figure], runs: int, job_runs: int) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "out" / f"scale-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"bench/scale {stamp}: {seed['customers']:,} customers, {seed['entries']:,} entries; "
        f"median of {runs} (reads, after a warm-up) / {job_runs} (jobs, one day each)"
    )
    text = report(figures, header)
    (out / "summary.txt").write_text(text + "\n")
    (out / "plans.txt").write_text(plans_text(figures))
    (out / "results.json").write_text(
        json.dumps(
            {
                f.name: {"times_ms": f.times, "target_ms": f.target_ms, "notes": f.notes}
                for f in figures
            },
            indent=2,
        )
    )
    print("\n" + text)
    print(f"\nplans of every statement: {out / 'plans.txt'}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
