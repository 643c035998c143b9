"""API keys: issue (the secret is shown once), authenticate, list and revoke.

Only `sha256(key)` is stored. Keys carry 256 bits of randomness, so a fast hash is the right
tool (as for GitHub and Stripe tokens); lookup is by the hash's unique index, so no stored
secret is ever compared byte by byte.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
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


_AUTH_SQL = """
SELECT k.id, k.public_id, k.scope, k.revoked_at, k.last_used_at,
       s.id AS shop_id, s.domain, s.points_expiry_days, s.uninstalled_at
FROM api_key k JOIN shop s ON s.id = k.shop_id
WHERE k.key_hash = $1
"""


async def authenticate(secret: str | None, *, now: datetime | None = None) -> ApiKeyPrincipal:
    """Resolve a raw key to its shop. Raises on a missing, unknown or revoked key."""
    if not secret:
        raise ApiKeyMissingError("Missing Authorization header")
    row = await sql.fetch_one(_AUTH_SQL, hash_key(secret))
    if row is None:
        raise ApiKeyInvalidError("The API key is not valid")
    if row["revoked_at"] is not None:
        raise ApiKeyRevokedError("The API key has been revoked")
    if row["uninstalled_at"] is not None:
        raise ShopUninstalledError("The shop this API key belongs to has uninstalled the app")
    now = now or utcnow()
    last_used = parse_db_datetime(row["last_used_at"])
    return ApiKeyPrincipal(
        key_id=row["id"],
        key_public_id=row["public_id"],
        scope=ApiKeyScope(row["scope"]),
        shop=ShopContext(
            id=row["shop_id"], domain=row["domain"], points_expiry_days=row["points_expiry_days"]
        ),
        needs_touch=last_used is None or now - last_used >= LAST_USED_RESOLUTION,
    )


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
