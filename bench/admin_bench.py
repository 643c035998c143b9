"""bench/admin: lab web vitals of every admin page, in the local admin preview, on a big shop.

The big shop is bench/scale_seed.py's (`seed_big_shop`: BENCH_ADMIN_CUSTOMERS customers and
BENCH_ADMIN_ENTRIES earning-history entries, default 1 M and 10 M, on PostgreSQL at BENCH_PG_URL;
BENCH_SCALE_KEEP=1 keeps the database for the next run), a demo shop connected under this
bench's SECRET_KEY, so `loyalty serve --demo` (bench/demo_server.py) opens its admin at
`/demo/admin?shop=…`: the app's real pages in the frame that plays Shopify admin, with the
demo's offline stand-ins of App Bridge and Polaris (static/demo/; in Shopify admin the real
Polaris draws the pages, so these are the app's own costs, not Polaris's).

Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) through Playwright, 1280 × 900,
no throttling; bench/admin_vitals.js reads each document's vitals from the browser's own entries:
- every page in web.admin.pages.PAGES (new pages are measured without editing this file), the
  frame navigated to it as Shopify admin loads an app (a fresh ID token in the URL), BENCH_RUNS
  (3) times: LCP (from the frame document's start, so the server's time is in it) and CLS;
- three scripted interactions, BENCH_RUNS times each: search customers by an email prefix
  (typed, then Search), open a customer from the results (a link: the token bounce included),
  save a rule (its form, Save): INP from Event Timing (the worst interaction on the page), and
  the time until the page it leads to has painted its largest content.
Prints medians against the targets (issue 18: LCP ≤ 1.0 s, CLS ≤ 0.02, INP ≤ 100 ms); writes
bench/out/admin-<UTC time>/. Exits non-zero when a page failed or anything was requested from
another host; the targets are reported, not enforced.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg
import redis
from playwright.async_api import Browser, Frame, Page, Route, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.demo_server import demo_server  # noqa: E402 - after the path is set
from bench.scale_seed import drop_database, seed_big_shop  # noqa: E402
from web.admin.pages import PAGES  # noqa: E402

CUSTOMERS = int(os.environ.get("BENCH_ADMIN_CUSTOMERS", "1000000"))
ENTRIES = int(os.environ.get("BENCH_ADMIN_ENTRIES", "10000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DATABASE = os.environ.get("BENCH_ADMIN_DATABASE", "bench_scale_admin")
KEEP = os.environ.get("BENCH_SCALE_KEEP") == "1"
# Jobs go to a Redis database no worker reads: the embedded default would run the big shop's
# due approvals and expiries in the web process while its pages are measured.
REDIS_URL = os.environ.get("BENCH_ADMIN_REDIS_URL", "redis://127.0.0.1:6379/11")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update"]
SECRET_KEY = "bench-admin-not-a-secret-0123456789abcdef"  # noqa: S105 - a throwaway key
PROBE = (Path(__file__).parent / "admin_vitals.js").read_text()
TARGETS = {"lcp": 1000.0, "cls": 0.02, "inp": 100.0}
TIMEOUT_MS = 300_000
TYPED = 0.06  # seconds between keystrokes, as a quick typist
READ = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return { ...window.__vitals, origin: performance.timeOrigin, ttfb: n.responseStart,
           load: n.loadEventEnd,
           log: JSON.parse(sessionStorage.getItem("__vitalsLog") || "[]") };
}"""
NOW = "performance.timeOrigin + performance.now()"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def path_ids(dsn: str, seeded: dict[str, Any]) -> dict[str, str]:
    """A value for each path parameter of the admin's pages: the whale customer (the longest
    history), the seed's first rule and tier, one of its rewards."""
    conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        reward = await conn.fetchval(
            "SELECT public_id FROM reward WHERE shop_id = $1 ORDER BY id LIMIT 1",
            seeded["shop_id"],
        )
    finally:
        await conn.close()
    return {
        "customer_id": seeded["whale_shopify_id"],
        # A social rule: its form is the common one (points, approval time, the network).
        "rule_id": next((r for r in seeded["rules"] if "instagram" in r), seeded["rules"][0]),
        "tier_id": seeded["tiers"][0],
        "reward_id": reward,
    }


class Admin:
    """The admin preview in one tab: its frame navigated as Shopify admin navigates an app."""

    def __init__(self, page: Page, base: str, shop: str) -> None:
        self.page, self.base, self.shop = page, base, shop
        self.query: dict[str, str] = {}

    @property
    def frame(self) -> Frame:
        frame = self.page.frame(name="app-iframe")
        assert frame is not None, "the admin preview has no app frame"
        return frame

    async def open(self) -> dict[str, Any]:
        await self.page.goto(f"{self.base}/demo/admin?{urlencode({'shop': self.shop})}")
        await self.frame.wait_for_load_state("load")
        self.query = dict(parse_qsl(urlsplit(self.frame.url).query))
        return await self.settled()

    async def url(self, path: str) -> str:
        """`path` as Shopify admin opens it: shop, host, embedded and a fresh ID token."""
        # Asked by the frame page, as the App Bridge stand-in asks (same origin, same cookies).
        token = await self.page.evaluate(
            "(url) => fetch(url).then((r) => r.json()).then((body) => body.id_token)",
            f"/demo/admin/id-token?{urlencode({'shop': self.shop})}",
        )
        return f"{self.base}{path}?{urlencode({**self.query, 'id_token': token})}"

    async def load(self, path: str) -> dict[str, Any]:
        await self.frame.evaluate("sessionStorage.removeItem('__vitalsLog')")
        await self.frame.goto(await self.url(path), wait_until="load")
        return await self.settled()

    async def settled(self) -> dict[str, Any]:
        """The document's figures once the network is quiet and two frames were painted."""
        await self.frame.wait_for_load_state("networkidle")
        await self.frame.evaluate(
            "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        await asyncio.sleep(0.3)
        return await self.frame.evaluate(READ)  # type: ignore[no-any-return]

    async def navigates(self, act: Any, lands_on: str) -> tuple[dict[str, Any], float]:
        """Run `act` (an interaction that leaves the page), wait until the frame shows a page
        whose path matches `lands_on`; the landing page's figures and the milliseconds from the
        interaction to its largest paint."""
        started = await self.frame.evaluate(NOW)
        await act()
        await self.frame.wait_for_url(re.compile(lands_on), wait_until="load")
        landed = await self.settled()
        return landed, landed["origin"] + (landed["lcp"] or 0) - started


def inp(figures: dict[str, Any], path: str) -> tuple[float, str]:
    """The worst interaction on the document at `path` (from the log it left behind)."""
    for document in reversed(figures["log"]):
        if document["path"] == path:
            worst = max(
                document["interactions"].values(), key=lambda i: i["duration"], default=None
            )
            if worst is None:
                return 0.0, "every interaction under 16 ms"
            return worst["duration"], f"{worst['name']} on {worst['target']}"
    return float("nan"), "not recorded"


async def search(admin: Admin, prefix: str) -> dict[str, Any]:
    await admin.load("/app/customers")
    field = admin.frame.get_by_label("Search customers")
    await field.click()
    await field.press_sequentially(prefix, delay=TYPED * 1000)
    button = admin.frame.get_by_role("button", name="Search")
    landed, painted = await admin.navigates(button.click, r"^[^?]*/app/customers\?.*search=")
    worst, what = inp(landed, "/app/customers")
    return {"inp": worst, "what": what, "painted": painted, "landed": landed}


async def open_customer(admin: Admin, prefix: str) -> dict[str, Any]:
    await admin.load("/app/customers")
    field = admin.frame.get_by_label("Search customers")
    await field.fill(prefix)
    search_button = admin.frame.get_by_role("button", name="Search")
    await admin.navigates(search_button.click, r"^[^?]*/app/customers\?.*search=")
    await admin.frame.evaluate("sessionStorage.removeItem('__vitalsLog')")
    link = admin.frame.locator("a[href*='/app/customers/']").first  # the first result's name
    landed, painted = await admin.navigates(link.click, r"^[^?]*/app/customers/\d+(\?|$)")
    worst, what = inp(landed, "/app/customers")
    return {"inp": worst, "what": what, "painted": painted, "landed": landed}


async def save_rule(admin: Admin, rule: str) -> dict[str, Any]:
    await admin.load(f"/app/rules/{rule}")
    points = admin.frame.get_by_label("Points", exact=True)
    value = await points.input_value()
    await points.click()
    await points.press("End")
    await points.press("Backspace")  # retype the last digit: an edit that changes nothing
    await points.press_sequentially(value[-1:], delay=TYPED * 1000)
    save = admin.frame.get_by_role("button", name="Save")
    landed, painted = await admin.navigates(save.click, r"^[^?]*/app/rules(\?|$)")
    worst, what = inp(landed, f"/app/rules/{rule}")
    return {"inp": worst, "what": what, "painted": painted, "landed": landed}


async def measure(browser: Browser, base: str, seeded: dict[str, Any], ids: dict[str, str]) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    await context.add_init_script(PROBE)
    foreign: list[str] = []

    async def refuse(route: Route) -> None:
        foreign.append(route.request.url)
        await route.abort()

    await context.route(lambda url: urlsplit(url).hostname != "127.0.0.1", refuse)
    context.set_default_timeout(TIMEOUT_MS)  # a slow page is measured, not abandoned
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    admin = Admin(page, base, seeded["shop_domain"])
    await admin.open()  # warm-up: the server's first requests, Chromium's caches
    pages: dict[str, list[dict[str, Any]]] = {}
    for run in range(RUNS):
        for path, _template, _context, _name in PAGES:
            concrete = path.format(**ids)
            figures = await admin.load(concrete)
            log(f"  {concrete}: LCP {figures['lcp'] or 0:.0f} ms, CLS {figures['cls']:.3f}")
            if "/auth/" in admin.frame.url or figures["lcp"] is None:
                errors.append(f"{concrete}: landed on {admin.frame.url} without a paint")
            pages.setdefault(path, []).append(figures)
        log(f"pages: run {run + 1}/{RUNS}")
    prefix = seeded["sample_email"][:8]
    interactions: dict[str, list[dict[str, Any]]] = {}
    for run in range(RUNS):
        interactions.setdefault(f"search customers (“{prefix}”)", []).append(
            await search(admin, prefix)
        )
        interactions.setdefault("open a customer", []).append(await open_customer(admin, prefix))
        interactions.setdefault("save a rule", []).append(await save_rule(admin, ids["rule_id"]))
        log(f"interactions: run {run + 1}/{RUNS}")
    await context.close()
    return pages, interactions, foreign, errors


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def report(
    pages: dict[str, list[dict[str, Any]]],
    interactions: dict[str, list[dict[str, Any]]],
    seeded: dict[str, Any],
) -> list[str]:
    med = statistics.median
    lines = [
        f"big shop: {seeded['customers']:,} customers, {seeded['entries']:,} earning-history"
        f" entries ({'reused' if seeded.get('reused') else 'seeded'}); Chromium, 1280×900, no"
        f" throttling; median of {RUNS} loads",
        "",
        f"{'page':32} {'TTFB':>7} {'LCP':>7} {'CLS':>6}  LCP element",
    ]
    worst_lcp = worst_cls = 0.0
    for path, runs in pages.items():
        lcp, cls = med(r["lcp"] or 0 for r in runs), med(r["cls"] for r in runs)
        worst_lcp, worst_cls = max(worst_lcp, lcp), max(worst_cls, cls)
        lines.append(
            f"{path:32} {med(r['ttfb'] for r in runs):5.0f}ms {lcp:5.0f}ms {cls:6.3f}"
            f"  {runs[-1]['lcpElement'] or '(no longer in the page)'}"
        )
    lines += ["", f"{'interaction':32} {'INP':>7} {'painted':>8}  worst event"]
    worst_inp = 0.0
    for name, runs in interactions.items():
        value = med(r["inp"] for r in runs)
        worst_inp = max(worst_inp, value)
        lines.append(
            f"{name:32} {value:5.0f}ms {med(r['painted'] for r in runs):6.0f}ms  {runs[-1]['what']}"
        )
    lines += [
        "",
        "(painted: from the interaction to the largest paint of the page it leads to)",
        f"worst page LCP {worst_lcp:.0f} ms (target ≤ {TARGETS['lcp']:.0f} ms:"
        f" {verdict(worst_lcp, TARGETS['lcp'])}); worst CLS {worst_cls:.3f} (target ≤"
        f" {TARGETS['cls']}: {verdict(worst_cls, TARGETS['cls'])}); worst INP {worst_inp:.0f} ms"
        f" (target ≤ {TARGETS['inp']:.0f} ms: {verdict(worst_inp, TARGETS['inp'])})",
    ]
    shifted = [
        f"  {path}: {shift['value']:.4f} at {shift['at']} ms from {', '.join(shift['sources'])}"
        for path, runs in pages.items()
        for shift in runs[-1]["shifts"]
        if shift["value"] >= 0.001
    ]
    if shifted:
        lines += ["layout shifts (last load of each page):", *shifted]
    return lines


async def run(work: Path) -> int:
    dsn = f"{PG_URL}/{DATABASE}"
    started = time.monotonic()
    seeded = await seed_big_shop(
        dsn, customers=CUSTOMERS, entries=ENTRIES, keep=KEEP, secret_key=SECRET_KEY
    )
    log(f"big shop ready in {time.monotonic() - started:.0f} s (reused: {seeded.get('reused')})")
    ids = await path_ids(dsn, seeded)
    out = ROOT / "bench/out" / f"admin-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    out.mkdir(parents=True, exist_ok=True)
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
        environment = {"SECRET_KEY": SECRET_KEY, "REDIS_URL": REDIS_URL}
        with demo_server(work, dsn, env=environment) as (base, _demo):
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                try:
                    pages, interactions, foreign, errors = await measure(browser, base, seeded, ids)
                finally:
                    await browser.close()
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        if not KEEP:
            await drop_database(dsn)
    lines = report(pages, interactions, seeded)
    if foreign:
        lines += ["", "REQUESTED FROM OTHER HOSTS (refused):", *sorted(set(foreign))]
    if errors:
        lines += ["", "ERRORS:", *errors]
    lines += ["", f"figures: {out.relative_to(ROOT)}"]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(
        json.dumps({"pages": pages, "interactions": interactions}, indent=1, default=str)
    )
    print("\n".join(lines))
    return 1 if foreign or errors else 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-admin.") as work:
        return asyncio.run(run(Path(work)))


if __name__ == "__main__":
    sys.exit(main())
