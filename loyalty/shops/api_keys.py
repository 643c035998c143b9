"""API keys: issue (the secret is shown once), authenticate, list and revoke.

Only `sha256(key)` is stored. Keys carry 256 bits of randomness, so a fast hash is the right
tool (as for GitHub and Stripe tokens); lookup is by the hash's unique index, so no stored
secret is ever compared byte by byte.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tortoise.expressions import Q

from loyalty import ids, sql
from loyalty.clock import parse_db_datetime, utcnow
from loyalty.errors import ApiKeyNotFoundError, DomainError
from loyalty.models import ApiKey, ApiKeyScope, Shop

KEY_PREFIX = "lk_"
# last_used_at is a hint for the admin, not an audit log: refresh it at most this often.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class ApiKeyMissingError(DomainError):
    code = "missing_api_key"
    title = "Unauthorized"


class ApiKeyInvalidError(DomainError):
    code = "invalid_api_key"
    title = "Unauthorized"


class ApiKeyRevokedError(DomainError):
    code = "api_key_revoked"
    title = "Unauthorized"


class ShopUninstalledError(DomainError):
    code = "shop_uninstalled"
    title = "Unauthorized"


class ReadOnlyApiKeyError(DomainError):
    code = "read_only_api_key"
    title = "Forbidden"


@dataclass(frozen=True, slots=True)
class ShopContext:
    """The authenticated shop and the settings the hot paths need."""

    id: int
    domain: str
    points_expiry_days: int | None


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    key_id: int
    key_public_id: str
    scope: ApiKeyScope
    shop: ShopContext
    needs_touch: bool  # last_used_at is stale; the caller refreshes it off the request path

    def require_write(self) -> None:
        if self.scope is not ApiKeyScope.FULL:
            raise ReadOnlyApiKeyError(
                "This API key is read-only and cannot perform write operations"
            )


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # shown once, never stored


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_api_key(
    *, shop: Shop, name: str = "", scope: ApiKeyScope = ApiKeyScope.FULL
) -> IssuedApiKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = await ApiKey.create(
        public_id=ids.new_public_id(ids.API_KEY),
        shop=shop,
        name=name.strip()[:100],
        prefix=secret[:10],
        key_hash=hash_key(secret),
        scope=scope,
    )
    return IssuedApiKey(key=key, secret=secret)


class VerifiedKeyCache:
    """Keys this process verified against the database in the last `ttl` seconds, by hash.

    Only for actions that re-verify the key inside their own statement (the award does:
    `award_rule(api_key_id=…)`; so does the redemption, in the read that locks the customer:
    `redeem(api_key_id=…)`), so a revoked key is refused at once even while cached; what the
    cache saves is the separate lookup round trip on the hot path.
    """

    def __init__(self, *, ttl: float = 30.0, max_keys: int = 10_000) -> None:
        self._ttl = ttl
        self._max_keys = max_keys
        self._entries: dict[str, tuple[float, ApiKeyPrincipal]] = {}

    def get(self, key_hash: str) -> ApiKeyPrincipal | None:
        entry = self._entries.get(key_hash)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        return entry[1]

    def put(self, key_hash: str, principal: ApiKeyPrincipal) -> None:
        if len(self._entries) >= self._max_keys:
            self._entries.clear()  # bounded; a miss only costs one lookup
        self._entries[key_hash] = (time.monotonic(), replace(principal, needs_touch=False))


_AUTH_SQL = """
SELECT k.id, k.public_id, k.scope, k.revoked_at, k.last_used_at,
       s.id AS shop_id, s.domain, s.points_expiry_days, s.uninstalled_at
FROM api_key k JOIN shop s ON s.id = k.shop_id
WHERE k.key_hash = $1
"""


async def authenticate(
    secret: str | None, *, cache: VerifiedKeyCache | None = None, now: datetime | None = None
) -> ApiKeyPrincipal:
    """Resolve a raw key to its shop. Raises on a missing, unknown or revoked key.

    With `cache`, a key verified moments ago is not looked up again: pass one only where the
    action re-verifies the key itself (see VerifiedKeyCache)."""
    if not secret:
        raise ApiKeyMissingError("Missing Authorization header")
    key_hash = hash_key(secret)
    if cache is not None and (cached := cache.get(key_hash)) is not None:
        return cached
    row = await sql.fetch_one(_AUTH_SQL, key_hash)
    if row is None:
        raise ApiKeyInvalidError("The API key is not valid")
    check_current(
        revoked=row["revoked_at"] is not None, uninstalled=row["uninstalled_at"] is not None
    )
    now = now or utcnow()
    last_used = parse_db_datetime(row["last_used_at"])
    principal = ApiKeyPrincipal(
        key_id=row["id"],
        key_public_id=row["public_id"],
        scope=ApiKeyScope(row["scope"]),
        shop=ShopContext(
            id=row["shop_id"], domain=row["domain"], points_expiry_days=row["points_expiry_days"]
        ),
        needs_touch=last_used is None or now - last_used >= LAST_USED_RESOLUTION,
    )
    if cache is not None:
        cache.put(key_hash, principal)
    return principal


def check_current(*, revoked: bool, uninstalled: bool) -> None:
    """A known key is refused once revoked, or once its shop has uninstalled the app: here
    when authenticating, and where an action re-verifies a key served from VerifiedKeyCache
    (the redemption)."""
    if revoked:
        raise ApiKeyRevokedError("The API key has been revoked")
    if uninstalled:
        raise ShopUninstalledError("The shop this API key belongs to has uninstalled the app")


async def touch_api_key(key_id: int, *, now: datetime | None = None) -> None:
    """Record use; conditional so concurrent requests and processes write it once a minute."""
    now = now or utcnow()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    await ApiKey.filter(stale, id=key_id).update(last_used_at=now)


async def list_api_keys(*, shop: Shop) -> list[ApiKey]:
    return await ApiKey.filter(shop=shop).order_by("-created_at", "-id")


async def revoke_api_key(*, shop: Shop, public_id: str) -> ApiKey:
    """Revoke a key of this shop; revoking twice is harmless and keeps the first time."""
    key = await ApiKey.get_or_none(shop=shop, public_id=public_id)
    if key is None:
        raise ApiKeyNotFoundError(f"No API key {public_id!r} for this shop")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await key.save(update_fields=["revoked_at"])
    return key
