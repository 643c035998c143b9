"""Settings: one immutable object built from the environment (twelve-factor), by pydantic-settings.

Owns every configuration variable: each is declared once below, its environment name is the
field's name in capitals (or the alias it names), with its default and its validation beside
it. `Settings.from_env()` reads the process environment and, when present, `.env` (the
environment wins); `Settings.from_env(env)` reads only the mapping it is given. `Settings(...)`
itself reads nothing: the web app, the worker and the CLI take a `Settings` value, and tests build
their own and never patch the environment after import. Values are frozen once built.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator
from pydantic._internal._model_construction import ModelMetaclass
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_DATA_DIR = Path("data")
SHOPIFY_API_VERSION = "2026-10"  # the one place the Admin API version is pinned
MIN_RETRY_WINDOW = 24 * 3600.0  # OUTBOX_RETRY_WINDOW below a day is refused

# What `from_env` reads while it builds a value: None outside it (the constructor reads nothing),
# the process environment (plus .env), or the mapping it was given.
_READING: ContextVar[Mapping[str, str] | None] = ContextVar("settings_source", default=None)


def _without_trailing_slash(url: str | None) -> str | None:
    return url.rstrip("/") or None if url is not None else None


Url = Annotated[str, AfterValidator(lambda url: url.rstrip("/"))]
OptionalUrl = Annotated[str | None, AfterValidator(_without_trailing_slash)]


class _DefaultsOnTheClass(ModelMetaclass):
    """`Settings.api_rate_limit` is the declared default, as on the dataclass this replaced.

    Pydantic keeps field defaults off the class; the public API's description quotes them.
    """

    def __getattr__(cls, name: str) -> Any:
        fields = cls.__dict__.get("__pydantic_fields__") or {}
        if name in fields and not fields[name].is_required():
            return fields[name].get_default(call_default_factory=True)
        return super().__getattr__(name)  # type: ignore[misc]


class Settings(BaseSettings, metaclass=_DefaultsOnTheClass):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",  # the environment holds much more than ours
        env_ignore_empty=True,  # `FOO=` in .env means "unset, use the default"
        populate_by_name=True,  # Settings(data_dir=...) as well as LOYALTY_DATA_DIR
        env_file=".env",
        env_file_encoding="utf-8",
    )

    # Where the embedded default keeps its SQLite file and generated key.
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, validation_alias="LOYALTY_DATA_DIR")
    # Unset: SQLite under data_dir (from_env). postgresql:// is accepted as postgres://.
    database_url: str = f"sqlite://{DEFAULT_DATA_DIR}/loyalty.sqlite3"
    redis_url: str | None = None
    shopify_api_key: str = ""
    shopify_api_secret: str = ""
    shopify_old_api_secret: str | None = None
    # SHOPIFY_APP_URL and SCOPES (set by `shopify app dev`) are not read: the app's URL and
    # scopes live in shopify.app.toml, and ID tokens and managed install need neither here.
    # Unset: a key generated into data_dir/secret.key (from_env).
    secret_key: str = Field(default="", repr=False)
    # Seconds between sweeps that re-dispatch side-effect intents still undelivered.
    outbox_sweep_interval: float = 15.0
    # How long the dispatcher gathers intents before pushing them to the queue (coalescing).
    outbox_dispatch_delay: float = 0.2
    log_level: str = "info"
    # Seconds the web process (in-process jobs) and a worker wait at shutdown for running jobs
    # before cancelling them; sync runs end between customers as soon as shutdown begins.
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
    klaviyo_base_url: Url = "https://a.klaviyo.com"
    omnisend_base_url: Url = "https://api.omnisend.com/api"
    postscript_base_url: Url = "https://api.postscript.io"
    # When set, Admin API calls for https://<shop>.myshopify.com/… go to this URL instead.
    shopify_admin_base_url: OptionalUrl = None
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
    # The local demo (`loyalty serve --demo`, `make run`): the app plays its own Shopify on
    # loopback (web.demo); refused with real Shopify credentials (loyalty.shops.demo_mode).
    demo: bool = Field(default=False, validation_alias="LOYALTY_DEMO")
    # Bearer token for GET /metrics (Prometheus text). Unset: the route answers 404.
    metrics_token: str | None = Field(default=None, repr=False)

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, url: str) -> str:
        # Tortoise knows postgres:// (and asyncpg://); hosting providers hand out postgresql://.
        if url.startswith("postgresql://"):
            return "postgres://" + url.removeprefix("postgresql://")
        return url

    @field_validator("outbox_retry_window")
    @classmethod
    def _at_least_a_day(cls, seconds: float) -> float:
        if seconds < MIN_RETRY_WINDOW:
            raise ValueError(f"OUTBOX_RETRY_WINDOW must be at least {MIN_RETRY_WINDOW:.0f} seconds")
        return seconds

    @property
    def database_dialect(self) -> str:
        return "postgres" if self.database_url.startswith(("postgres", "asyncpg")) else "sqlite"

    @property
    def runs_jobs_in_process(self) -> bool:
        """The embedded default: no Redis configured, so the web process runs the jobs itself."""
        return not self.redis_url

    def with_overrides(self, **changes: object) -> Settings:
        return self.model_copy(update=changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from `env` (default: the process environment, then `.env`).

        Unset DATABASE_URL and SECRET_KEY fall back to the embedded default under
        LOYALTY_DATA_DIR: a SQLite file and a generated key kept beside it.
        """
        token = _READING.set(os.environ if env is None else env)
        try:
            settings = cls()
        finally:
            _READING.reset(token)
        derived: dict[str, object] = {}
        if "database_url" not in settings.model_fields_set:
            derived["database_url"] = f"sqlite://{settings.data_dir}/loyalty.sqlite3"
        if not settings.secret_key:
            derived["secret_key"] = _local_secret_key(settings.data_dir)
        return settings.with_overrides(**derived)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        reading = _READING.get()
        if reading is None:  # Settings(...): exactly the values given, nothing from outside
            return (init_settings,)
        if reading is os.environ:
            return (init_settings, env_settings, dotenv_settings)
        return (init_settings, _MappingSource(settings_cls, reading))


class _MappingSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of the process environment."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # As for the process environment: names match in any case, and empty means unset.
        return {name.lower(): value for name, value in self._given.items() if value != ""}


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
