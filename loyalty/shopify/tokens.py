"""Offline access tokens: obtained by token exchange, stored encrypted, refreshed before use.

Shopify requires expiring offline tokens for every public app from 2027-01-01: an access token
lives an hour, and each refresh returns a new refresh token (rotation). Guarantees:
- tokens are stored only as ciphertext (loyalty.crypto);
- a token is refreshed when within a minute of expiry, under a per-shop lock (an asyncio lock
  in this process plus, on PostgreSQL, a row lock across processes), so two workers never both
  spend the same refresh token;
- an expired or revoked refresh token flags the shop for re-auth (`reauth_required_at`) and
  raises `ShopReauthRequiredError`; the merchant's next admin load runs token exchange again;
- a demo shop's token (minted by `loyalty demo` for the local Shopify) is used only by the demo
  process, and the demo process uses no other shop's: to the rest, that shop is not connected.
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from shopify_app import IdTokenDetails, Res, ShopifyApp, TokenExchangeAccessToken
from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox
from loyalty.db import dialect
from loyalty.errors import DomainError
from loyalty.models import Shop

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(seconds=60)  # the same margin shopify_app itself uses
# How long a process reuses a shop's decrypted token without reading the shop row again: every
# Shopify call asked for it (bench/redeem: 5% of the worker's samples). A token revoked or
# rotated meanwhile answers 401, and the 401's forced refresh reads the row again (and uses a
# token another process already rotated in, rather than spending the refresh token twice).
TOKEN_REUSE = timedelta(seconds=30)


class ShopNotConnectedError(DomainError):
    code = "shop_not_connected"
    title = "Shop not connected"


class ShopReauthRequiredError(DomainError):
    code = "shop_reauth_required"
    title = "Shop must re-open the app"


class ShopifyUnavailableError(DomainError):
    """Shopify could not be reached or answered 5xx: try again later."""

    code = "shopify_unavailable"
    title = "Shopify unavailable"


class TokenExchangeError(DomainError):
    """Token exchange refused. `response` is shopify_app's response to hand to App Bridge."""

    code = "token_exchange_failed"
    title = "Token exchange failed"

    def __init__(self, detail: str, *, response: Res | None = None) -> None:
        super().__init__(detail)
        self.response = response


def shop_name(domain: str) -> str:
    """`demo.myshopify.com` → `demo`: shopify_app takes the subdomain only."""
    return domain.removesuffix(".myshopify.com")


def _parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def has_usable_token(shop: Shop, *, now: datetime | None = None) -> bool:
    """True when API calls can be made for the shop without the merchant (re-)opening the app."""
    if shop.uninstalled_at or shop.reauth_required_at or not shop.access_token_enc:
        return False
    now = now or utcnow()
    access_valid = shop.access_token_expires_at is None or shop.access_token_expires_at > now
    refresh_valid = bool(shop.refresh_token_enc) and (
        shop.refresh_token_expires_at is None or shop.refresh_token_expires_at > now
    )
    return access_valid or refresh_valid


async def store_token(*, shop: Shop, token: TokenExchangeAccessToken, box: SecretBox) -> None:
    """Persist a freshly exchanged or refreshed pair; this is also what (re)installs the shop."""
    now = utcnow()
    shop.access_token_enc = box.encrypt(token.token)
    shop.access_token_expires_at = _parse_expiry(token.expires)
    refresh = box.encrypt(token.refresh_token) if token.refresh_token else None
    shop.refresh_token_enc = refresh  # type: ignore[assignment]  # a nullable column
    shop.refresh_token_expires_at = _parse_expiry(token.refresh_token_expires)
    if token.scope:
        shop.scopes = token.scope
    shop.reauth_required_at = None
    if shop.uninstalled_at is not None or shop.installed_at is None:
        shop.installed_at = now  # a reinstall starts a new installation
    shop.uninstalled_at = None
    await shop.save(
        update_fields=[
            "access_token_enc",
            "access_token_expires_at",
            "refresh_token_enc",
            "refresh_token_expires_at",
            "scopes",
            "reauth_required_at",
            "installed_at",
            "uninstalled_at",
            "updated_at",
        ]
    )


async def exchange_offline_token(
    *,
    shop: Shop,
    shopify: ShopifyApp,
    http: httpx.AsyncClient,
    box: SecretBox,
    id_token: IdTokenDetails,
    invalid_token_response: Res | None,
) -> None:
    """Trade a verified App Bridge ID token for an expiring offline token, and store it."""
    result = await shopify.exchange_using_token_exchange_async(
        "offline",
        id_token=id_token,
        invalid_token_response=invalid_token_response,
        expiring=True,
        http_client=http,
    )
    if not result.ok or result.access_token is None:
        log.warning("token exchange for %s failed: %s", shop.domain, result.log.code)
        raise TokenExchangeError(
            f"Token exchange failed ({result.log.code})", response=result.response
        )
    await store_token(shop=shop, token=result.access_token, box=box)
    log.info("stored an expiring offline token for %s", shop.domain)


@dataclass(frozen=True)
class ShopAccess:
    name: str  # subdomain, as shopify_app wants it
    token: str


@dataclass(frozen=True)
class _Reused:
    access: ShopAccess
    sealed: str | None  # the row's ciphertext it came from: a different one means rotated
    read_at: datetime
    expires_at: datetime | None

    def usable(self, now: datetime) -> bool:
        expires = self.expires_at
        return now - self.read_at < TOKEN_REUSE and (
            expires is None or expires - now > REFRESH_MARGIN
        )


class TokenProvider:
    """Fresh access tokens for background work; one per process (it holds the locks)."""

    def __init__(
        self, *, shopify: ShopifyApp, http: httpx.AsyncClient, box: SecretBox, demo: bool = False
    ) -> None:
        self._shopify = shopify
        self._http = http
        self._box = box
        self._demo = demo  # this process is the local demo (loyalty.shops.demo_mode)
        self._locks: dict[int, asyncio.Lock] = {}
        self._reused: dict[int, _Reused] = {}  # shop id → its token, for TOKEN_REUSE

    async def access(self, shop_id: int, *, force_refresh: bool = False) -> ShopAccess:
        """A token valid for at least a minute. `force_refresh` after Shopify answered 401:
        the token in use is refreshed, unless the row already holds a newer one."""
        now = utcnow()
        reused = self._reused.pop(shop_id, None)
        if reused is not None and not force_refresh and reused.usable(now):
            self._reused[shop_id] = reused
            return reused.access
        shop = await Shop.get_or_none(id=shop_id)
        if shop is None:
            raise ShopNotConnectedError(f"shop {shop_id} does not exist")
        if shop.is_demo != self._demo:
            # Never a demo token to Shopify, nor a real shop's token to the local Shopify.
            why = "a demo shop (local demo only)" if shop.is_demo else "not a demo shop"
            raise ShopNotConnectedError(f"{shop.domain} is {why}")
        self._connected(shop)  # a 401 after an uninstall: not connected, nothing to refresh
        rotated = reused is not None and reused.sealed != shop.access_token_enc
        if not force_refresh or rotated:
            current = self._current(shop, now)
            if current is not None:
                return self._reuse(shop, ShopAccess(shop_name(shop.domain), current), now)
        lock = self._locks.setdefault(shop_id, asyncio.Lock())
        async with lock:
            async with _row_lock(shop_id) as locked:
                # Another holder of the lock may have refreshed meanwhile: look again.
                outcome: str | DomainError | None = (
                    None if force_refresh else self._current(locked, utcnow())
                )
                if outcome is None:
                    outcome = await self._refresh(locked, stale=shop.access_token_enc)
            # Raised only after the transaction ends, so a re-auth flag is committed with it.
            if isinstance(outcome, DomainError):
                raise outcome
            return self._reuse(locked, ShopAccess(shop_name(locked.domain), outcome), utcnow())

    def _reuse(self, shop: Shop, access: ShopAccess, now: datetime) -> ShopAccess:
        self._reused[shop.id] = _Reused(
            access, shop.access_token_enc, now, shop.access_token_expires_at
        )
        return access

    @staticmethod
    def _connected(shop: Shop) -> None:
        if shop.uninstalled_at or not shop.access_token_enc:
            raise ShopNotConnectedError(f"{shop.domain} has no offline token")
        if shop.reauth_required_at:
            raise ShopReauthRequiredError(f"{shop.domain} must open the app again")

    def _current(self, shop: Shop, now: datetime) -> str | None:
        self._connected(shop)
        expires = shop.access_token_expires_at
        if expires is None or expires - now > REFRESH_MARGIN:
            return self._box.decrypt(shop.access_token_enc)
        return None

    async def _refresh(self, shop: Shop, *, stale: str | None) -> str | DomainError:
        if (
            shop.access_token_enc != stale
            and shop.access_token_expires_at
            and (shop.access_token_expires_at - utcnow() > REFRESH_MARGIN)
        ):
            # A concurrent refresh (another process) already rotated the pair: use its result.
            return self._box.decrypt(shop.access_token_enc or "")
        if not shop.refresh_token_enc:
            await _flag_reauth(shop, "no refresh token")
            return ShopReauthRequiredError(f"{shop.domain} has no refresh token")
        current: dict[str, Any] = {
            "shop": shop_name(shop.domain),
            "access_mode": "offline",
            "refresh_token": self._box.decrypt(shop.refresh_token_enc),
            # Always past: we only get here when a refresh is wanted (near expiry or a 401).
            "expires": _iso(utcnow() - timedelta(seconds=1)),
            "refresh_token_expires": _iso(shop.refresh_token_expires_at),
        }
        result = await self._shopify.refresh_token_exchanged_access_token_async(
            current, http_client=self._http
        )
        if result.ok and result.access_token is not None:
            await store_token(shop=shop, token=result.access_token, box=self._box)
            log.info("refreshed the offline token for %s", shop.domain)
            return result.access_token.token
        status = result.response.status if result.response else 0
        if result.log.code in {"refresh_token_expired", "invalid_grant"} or status in {400, 401}:
            await _flag_reauth(shop, result.log.code)
            return ShopReauthRequiredError(
                f"{shop.domain}: refresh refused ({result.log.code}); the merchant must open "
                "the app again"
            )
        return ShopifyUnavailableError(
            f"token refresh for {shop.domain} failed ({result.log.code})"
        )


async def _flag_reauth(shop: Shop, reason: str) -> None:
    log.warning("%s needs re-auth: %s", shop.domain, reason)
    await Shop.filter(id=shop.id).update(reauth_required_at=utcnow())
    shop.reauth_required_at = utcnow()


@contextlib.asynccontextmanager
async def _row_lock(shop_id: int) -> AsyncIterator[Shop]:
    """The shop row, locked against other processes' refreshes for the duration.

    On PostgreSQL a `SELECT … FOR UPDATE` in a transaction held across the refresh call. SQLite
    is the single-process embedded default, where the asyncio lock already serialises; holding
    its one connection across an HTTP call would stall every other query, so it is not done.
    """
    if dialect() == "postgres":
        async with in_transaction():
            yield await Shop.select_for_update().get(id=shop_id)
    else:
        yield await Shop.get(id=shop_id)
