"""Settings: one immutable object built from the environment (twelve-factor).

The web app, the worker and the CLI take a `Settings` value; tests build their own and never
patch the environment after import.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data")
SHOPIFY_API_VERSION = "2026-10"  # the one place the Admin API version is pinned
MIN_RETRY_WINDOW = 24 * 3600.0  # OUTBOX_RETRY_WINDOW below a day is refused


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite://{DEFAULT_DATA_DIR}/loyalty.sqlite3"
    redis_url: str | None = None
    shopify_api_key: str = ""
    shopify_api_secret: str = ""
    shopify_old_api_secret: str | None = None
    shopify_app_url: str = "http://127.0.0.1:8000"
    scopes: str = "read_customers,write_customers,read_orders,write_app_proxy"
    secret_key: str = field(default="", repr=False)
    # Seconds between sweeps that re-dispatch side-effect intents still undelivered.
    outbox_sweep_interval: float = 15.0
    # An intent claimed by a job that did not finish within this many seconds is re-dispatched.
    outbox_claim_timeout: float = 120.0
    # How long the dispatcher gathers intents before pushing them to the queue (coalescing).
    outbox_dispatch_delay: float = 0.2
    log_level: str = "info"
    # Seconds the web process waits at shutdown for in-process jobs before cancelling them.
    shutdown_grace: float = 10.0
    # Public API rate limits, per API key, as token buckets (tokens/s and bucket size). Awards
    # (POST …/award and POST /api/v1/actions) draw on their own, larger bucket.
    api_rate_limit: float = 20.0
    api_rate_burst: int = 40
    api_award_rate_limit: float = 200.0
    api_award_rate_burst: int = 400
    # Failed authentication per client address (any surface): a bucket of AUTH_FAILURE_BURST
    # failures refilled at AUTH_FAILURE_LIMIT per minute; an empty bucket refuses the address
    # with 429 before any credential is looked up.
    auth_failure_limit: float = 20.0
    auth_failure_burst: int = 20
    # The embedded admin's JSON API (/app/api), per shop and staff user (tokens/s, bucket size).
    admin_api_rate_limit: float = 10.0
    admin_api_burst: int = 40
    # Partner base URLs: the real services unless overridden (local stub servers: bench/sync).
    klaviyo_base_url: str = "https://a.klaviyo.com"
    omnisend_base_url: str = "https://api.omnisend.com/api"
    postscript_base_url: str = "https://api.postscript.io"
    # When set, Admin API calls for https://<shop>.myshopify.com/… go to this URL instead.
    shopify_admin_base_url: str | None = None
    # Seconds a marketing-platform sync waits for more changes to the same customers, so a
    # burst of changes becomes one profile write per customer (each event is still sent).
    marketing_sync_delay: float = 5.0
    # A customer changing all the time is still written at least this often (seconds).
    marketing_sync_max_wait: float = 30.0
    # The same for Shopify customer metafields: a shorter quiet time, so the storefront shows a
    # change within seconds, and a burst still becomes one metafieldsSet per customer.
    metafield_sync_delay: float = 0.5
    metafield_sync_max_wait: float = 3.0
    # Seconds a side effect is retried for before it is dead-lettered (listed, retried on
    # request). At least a day, so a platform's outage or a long 429 period is ridden out.
    outbox_retry_window: float = 48 * 3600.0
    # Share of each partner's published rate limits this app allows itself; the rest is
    # headroom for the merchant's other integrations on the same account and for clock skew.
    partner_rate_share: float = 0.9
    # Seconds between the points-lifecycle schedulers (each also runs once at start).
    approvals_interval: float = 60.0
    expiry_interval: float = 900.0
    occasions_interval: float = 3600.0
    # Bearer token for GET /metrics (Prometheus text). Unset: the route answers 404.
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def database_dialect(self) -> str:
        return "postgres" if self.database_url.startswith(("postgres", "asyncpg")) else "sqlite"

    @property
    def runs_jobs_in_process(self) -> bool:
        """The embedded default: no Redis configured, so the web process runs the jobs itself."""
        return not self.redis_url

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("LOYALTY_DATA_DIR", str(DEFAULT_DATA_DIR)))
        database_url = env.get("DATABASE_URL") or f"sqlite://{data_dir}/loyalty.sqlite3"
        if database_url.startswith("postgresql://"):
            database_url = "postgres://" + database_url.removeprefix("postgresql://")
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            shopify_api_key=env.get("SHOPIFY_API_KEY", ""),
            shopify_api_secret=env.get("SHOPIFY_API_SECRET", ""),
            shopify_old_api_secret=env.get("SHOPIFY_OLD_API_SECRET") or None,
            shopify_app_url=(
                env.get("SHOPIFY_APP_URL") or env.get("APP_URL") or cls.shopify_app_url
            ).rstrip("/"),
            scopes=env.get("SCOPES", cls.scopes),
            secret_key=env.get("SECRET_KEY") or _local_secret_key(data_dir),
            outbox_sweep_interval=float(
                env.get("OUTBOX_SWEEP_INTERVAL", cls.outbox_sweep_interval)
            ),
            log_level=env.get("LOG_LEVEL", cls.log_level),
            api_rate_limit=float(env.get("API_RATE_LIMIT", cls.api_rate_limit)),
            api_rate_burst=int(env.get("API_RATE_BURST", cls.api_rate_burst)),
            api_award_rate_limit=float(env.get("API_AWARD_RATE_LIMIT", cls.api_award_rate_limit)),
            api_award_rate_burst=int(env.get("API_AWARD_RATE_BURST", cls.api_award_rate_burst)),
            metrics_token=env.get("METRICS_TOKEN") or None,
            auth_failure_limit=float(env.get("AUTH_FAILURE_LIMIT", cls.auth_failure_limit)),
            auth_failure_burst=int(env.get("AUTH_FAILURE_BURST", cls.auth_failure_burst)),
            admin_api_rate_limit=float(env.get("ADMIN_API_RATE_LIMIT", cls.admin_api_rate_limit)),
            admin_api_burst=int(env.get("ADMIN_API_BURST", cls.admin_api_burst)),
            **_sync_settings(env),
        )


def _sync_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The background-sync settings (partner URLs, delays, lifecycle intervals) from `env`."""
    urls = {
        "klaviyo_base_url": "KLAVIYO_BASE_URL",
        "omnisend_base_url": "OMNISEND_BASE_URL",
        "postscript_base_url": "POSTSCRIPT_BASE_URL",
    }
    numbers = {
        "marketing_sync_delay": "MARKETING_SYNC_DELAY",
        "marketing_sync_max_wait": "MARKETING_SYNC_MAX_WAIT",
        "metafield_sync_delay": "METAFIELD_SYNC_DELAY",
        "metafield_sync_max_wait": "METAFIELD_SYNC_MAX_WAIT",
        "outbox_retry_window": "OUTBOX_RETRY_WINDOW",
        "partner_rate_share": "PARTNER_RATE_SHARE",
        "approvals_interval": "APPROVALS_INTERVAL",
        "expiry_interval": "EXPIRY_INTERVAL",
        "occasions_interval": "OCCASIONS_INTERVAL",
    }
    values: dict[str, Any] = {
        name: env[var].rstrip("/") for name, var in urls.items() if env.get(var)
    }
    values.update({name: float(env[var]) for name, var in numbers.items() if env.get(var)})
    if values.get("outbox_retry_window", MIN_RETRY_WINDOW) < MIN_RETRY_WINDOW:
        raise ValueError(f"OUTBOX_RETRY_WINDOW must be at least {MIN_RETRY_WINDOW:.0f} seconds")
    values["shopify_admin_base_url"] = (env.get("SHOPIFY_ADMIN_BASE_URL") or "").rstrip("/") or None
    return values


def _local_secret_key(data_dir: Path) -> str:
    """Without SECRET_KEY, the embedded default keeps a generated key beside its database.

    Production sets SECRET_KEY explicitly (see README); this keeps `make run` a one-command start
    while still never shipping a hard-coded key.
    """
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (uvicorn --workers N) created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
