"""`loyalty`: the command line, and the one place that wires loyalty, web and workers together.

loyalty migrate                         apply database migrations
loyalty serve [--host H] [--port P] [--workers N] [--demo]
                                        serve the app (jobs in-process unless REDIS_URL is set;
                                        N > 1 needs PostgreSQL; --demo: the local demo)
loyalty worker                          run the arq worker (needs REDIS_URL)
loyalty api-key create --shop DOMAIN [--read-only] [--name NAME]
loyalty demo [--shop DOMAIN] [--json]   seed a demo shop, connect it to the local Shopify, and
                                        print where the demo is, a key and curl lines
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from loyalty.log_config import configure_logging
from loyalty.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    return handler(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loyalty", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    serve = commands.add_parser("serve", help="serve the web app with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="web processes (production)")
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, or *); "
        "default: $FORWARDED_ALLOW_IPS, else 127.0.0.1",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="the local demo: a local Shopify, the admin preview and a demo storefront under "
        "/demo, for shops `loyalty demo` seeded (loopback only; refused with real credentials)",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run the arq worker (needs REDIS_URL)")
    worker.set_defaults(handler=_worker)

    api_key = commands.add_parser("api-key", help="manage API keys")
    api_key_commands = api_key.add_subparsers(required=True, metavar="ACTION")
    create = api_key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--shop", required=True, help="the shop's myshopify domain")
    create.add_argument("--read-only", action="store_true", help="GET requests only")
    create.add_argument("--name", default="created with loyalty api-key create")
    create.set_defaults(handler=_api_key_create)

    demo = commands.add_parser("demo", help="seed a demo shop; print the URLs, a key, curl lines")
    demo.add_argument(
        "--shop",
        default=None,
        help="another demo shop to seed (NAME or NAME.myshopify.com; default demo.myshopify.com)",
    )
    demo.add_argument("--json", action="store_true", help="print the seed as JSON for scripts")
    demo.add_argument("--base-url", default="http://127.0.0.1:8000")
    demo.set_defaults(handler=_demo)
    return parser


def _with_db(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    from loyalty.db import close_db, init_db

    async def run() -> Any:
        await init_db(settings.database_url)
        try:
            return await work()
        finally:
            await close_db()

    return asyncio.run(run())


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from loyalty.db import migrate

    asyncio.run(migrate(settings.database_url))
    print(f"migrations applied to {_redacted(settings.database_url)}")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers > 1 and settings.database_dialect == "sqlite":
        # SQLite has one writer at a time: several processes wait on each other's locks and
        # answer "database is locked" under load. One process serves SQLite; more need PostgreSQL.
        print(
            f"loyalty serve --workers {args.workers} needs PostgreSQL (DATABASE_URL=postgres://…):"
            " SQLite allows one writer at a time, so it is served by one process (--workers 1)",
            file=sys.stderr,
        )
        return 2
    if args.demo:
        from loyalty.shops.demo_mode import DemoRefused, demo_admin_base_url, demo_settings

        # The web processes read the environment (uvicorn's factory), so the demo goes there.
        os.environ["LOYALTY_DEMO"] = "1"
        os.environ.setdefault("SHOPIFY_ADMIN_BASE_URL", demo_admin_base_url(args.port))
        try:
            demo_settings(Settings.from_env())
        except DemoRefused as refused:
            print(f"loyalty serve --demo: {refused}", file=sys.stderr)
            return 2
    if settings.runs_jobs_in_process:
        logging.getLogger("loyalty").info("REDIS_URL not set: jobs run inside the web process")
    uvicorn.run(
        "web.asgi:create",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,  # None: uvicorn reads FORWARDED_ALLOW_IPS
        log_level=settings.log_level,
    )
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.redis_outages import OutageTolerantWorker
    from workers.settings import worker_options

    if not settings.redis_url:
        print(
            "loyalty worker needs REDIS_URL (without it, `loyalty serve` runs jobs itself)",
            file=sys.stderr,
        )
        return 2
    if settings.demo:  # LOYALTY_DEMO=1 with SHOPIFY_ADMIN_BASE_URL: jobs reach the local Shopify
        from loyalty.shops.demo_mode import DemoRefused, demo_settings

        try:
            settings = demo_settings(settings)
        except DemoRefused as refused:
            print(f"loyalty worker: {refused}", file=sys.stderr)
            return 2
    # Waits out Redis outages (at start-up too) instead of exiting; SIGTERM stops it.
    OutageTolerantWorker(**worker_options(settings)).run()
    return 0


def _api_key_create(settings: Settings, args: argparse.Namespace) -> int:
    from loyalty.models import ApiKeyScope, Shop
    from loyalty.shops.api_keys import issue_api_key

    async def work() -> int:
        shop = await Shop.get_or_none(domain=args.shop)
        if shop is None:
            print(
                f"no shop {args.shop!r}: install the app in it first (or run `loyalty demo`)",
                file=sys.stderr,
            )
            return 1
        scope = ApiKeyScope.READ_ONLY if args.read_only else ApiKeyScope.FULL
        issued = await issue_api_key(shop=shop, name=args.name, scope=scope)
        print(issued.secret)
        print(
            f"{scope} key {issued.key.public_id} for {shop.domain}; it is shown only once",
            file=sys.stderr,
        )
        return 0

    return int(_with_db(settings, work))


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from loyalty.crypto import SecretBox
    from loyalty.shops.demo import DEMO_SHOP, seed_demo
    from loyalty.shops.demo_mode import DemoRefused
    from loyalty.shops.domains import shop_domain

    domain = shop_domain((args.shop or DEMO_SHOP).lower().removesuffix(".myshopify.com"))
    if domain is None:
        print(
            f"loyalty demo: {args.shop!r} is not a shop name (NAME.myshopify.com)", file=sys.stderr
        )
        return 2
    try:
        demo = _with_db(
            settings, lambda: seed_demo(domain=domain, box=SecretBox(settings.secret_key))
        )
    except DemoRefused as refused:
        print(f"loyalty demo: {refused}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_demo_json(demo), indent=2))
        return 0
    print(_demo_text(demo, args.base_url.rstrip("/")))
    return 0


def _demo_text(demo: Any, base: str) -> str:
    """What `loyalty demo` prints: where the demo is, the key, and curl lines that work."""
    from loyalty.shops.demo import DEMO_SHOP

    rules = {rule.action: rule.public_id for rule in demo.rules}
    key = demo.api_key.secret
    award = f"{base}/api/v1/earning-rules/{demo.rules[0].public_id}/award"
    customer = demo.showcase_customer
    shop = "" if demo.shop.domain == DEMO_SHOP else f"?shop={demo.shop.domain}"
    return f"""Demo shop {demo.shop.domain} is ready. Served by `loyalty serve --demo` (`make run`):

  API docs              {base}/api/v1/docs
  Admin preview         {base}/demo/admin{shop}
  Demo storefront       {base}/demo/storefront{shop}
  Local Shopify         {base}/demo/shopify{shop}   (the metafields the app wrote, live)

API key (shown once): {key}

Award the Instagram rule to {customer.email} (201 the first time, 409 when repeated):

  curl -i -X POST {award} \\
    -H 'Authorization: {key}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"customer_identifier": "{customer.shopify_customer_id}"}}'

A rule with a 14-day approval time (answers "pending"):

  curl -i -X POST {base}/api/v1/earning-rules/{rules["write_review"]}/award \\
    -H 'Authorization: {key}' \\
    -d '{{"customer_identifier": "{customer.email}"}}'

An excluded customer (403) and a purchase rule (422):

  curl -i -X POST {award} -H 'Authorization: {key}' \\
    -d '{{"customer_identifier": "eve.excluded@example.com"}}'
  curl -i -X POST {base}/api/v1/earning-rules/{rules["place_order"]}/award \\
    -H 'Authorization: {key}' -d '{{"customer_identifier": "7000000001"}}'
"""


def _demo_json(demo: Any) -> dict[str, Any]:
    return {
        "shop": demo.shop.domain,
        "api_key": demo.api_key.secret,
        "rules": [
            {
                "id": rule.public_id,
                "name": rule.name,
                "action": rule.action,
                "category": str(rule.category),
                "points": rule.points,
                "is_active": rule.is_active,
                "approval_time": rule.approval_time_days,
            }
            for rule in demo.rules
        ],
        "tiers": [
            {
                "name": tier.name,
                "points_required": tier.points_required,
                "points_multiplier": float(tier.points_multiplier),
            }
            for tier in demo.tiers
        ],
        "rewards": [
            {
                "id": reward.public_id,
                "name": reward.name,
                "kind": str(reward.kind),
                "points_cost": reward.points_cost,
                "is_active": reward.is_active,
            }
            for reward in demo.rewards
        ],
        "customers": [
            {
                "shopify_customer_id": str(customer.shopify_customer_id),
                "email": customer.email,
                "excluded": customer.is_excluded,
                "tier_multiplier": float(customer.vip_tier.points_multiplier)
                if customer.vip_tier
                else 1.0,
            }
            for customer in demo.customers
        ],
    }


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
