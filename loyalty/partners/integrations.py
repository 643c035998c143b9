"""A shop's marketing integrations (Klaviyo, Omnisend, Postscript): the merchant's API key,
stored encrypted and never shown again (only a hint such as `pk_…abcd`), an enabled flag, a
connection test, and the status the sync jobs record (last success, last error and why).

Only an enabled integration with a key is owed syncs (loyalty.outbox.intents writes intents for
enabled platforms only). Saving a key or enabling releases intents held back by an earlier
failure (a refused key), so they go out at once instead of waiting out their hold.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from tortoise.expressions import Q

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox, SecretDecryptionError
from loyalty.errors import NotFoundError, ValidationError
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import Integration, OutboxIntent, Platform, Shop
from loyalty.outages import INTEGRATIONS
from loyalty.outbox.claims import CLAIM_FOR
from loyalty.partners.clients import build_client
from loyalty.partners.transport import PartnerError, Sleep
from loyalty.settings import Settings

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 500
_KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.:]+")
_NAMES = {
    Platform.KLAVIYO: "Klaviyo",
    Platform.OMNISEND: "Omnisend",
    Platform.POSTSCRIPT: "Postscript",
}


class IntegrationNotFoundError(NotFoundError):
    code = "integration_not_found"
    title = "Integration not found"


class IntegrationNotConnectedError(ValidationError):
    """Enabling a platform before its API key is saved (422)."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(
            f"Save a {_NAMES[platform]} API key before enabling the integration",
            code="not_connected",
        )
        self.title = "Integration not connected"


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    platform: Platform
    connected: bool  # an API key is saved
    enabled: bool
    credential_hint: str | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ConnectionTest:
    platform: Platform
    ok: bool
    detail: str


def parse_platform(name: str) -> Platform:
    """Raises IntegrationNotFoundError for anything but klaviyo, omnisend or postscript."""
    try:
        return Platform(name)
    except ValueError:
        raise IntegrationNotFoundError(
            f"No integration {name!r}; the platforms are klaviyo, omnisend and postscript"
        ) from None


def credential_hint(api_key: str) -> str:
    """`pk_…abcd`: the key's prefix (up to its first underscore) and its last four characters."""
    prefix = api_key.split("_", 1)[0] + "_" if "_" in api_key[:12] else ""
    return f"{prefix}…{api_key[-4:]}"


def validate_api_key(platform: Platform, api_key: str) -> str:
    """The key, trimmed, if it has the platform's shape. Raises ValidationError (pointer
    `/api_key`) naming the usual mistake: Klaviyo's public site id instead of a private `pk_`
    key, Postscript's public `pk_` key instead of its private `sk_` key."""
    key = api_key.strip()

    def invalid(detail: str) -> ValidationError:
        return ValidationError(detail, pointer="/api_key", code="invalid_api_key")

    if not key:
        raise invalid("api_key must not be blank")
    if len(key) > MAX_KEY_LENGTH or not _KEY_CHARS.fullmatch(key):
        raise invalid("api_key has characters an API key never has (spaces, quotes …)")
    if platform is Platform.KLAVIYO and not key.startswith("pk_"):
        raise invalid(
            "Klaviyo private API keys start with pk_ (the 6-character public key cannot "
            "update profiles); create one under Settings › API keys in Klaviyo"
        )
    if platform is Platform.POSTSCRIPT and not key.startswith("sk_"):
        raise invalid(
            "Postscript private API keys start with sk_ (the pk_ public key does not work)"
        )
    if platform is Platform.OMNISEND and len(key) < 20:
        raise invalid("That is too short for an Omnisend API key")
    return key


def _status(platform: Platform, row: Integration | None, box: SecretBox) -> IntegrationStatus:
    if row is None:
        return IntegrationStatus(platform, False, False, None, None, None, None)
    hint = None
    if row.credentials_enc:
        try:
            hint = credential_hint(box.decrypt(row.credentials_enc))
        except SecretDecryptionError:
            hint = None  # SECRET_KEY changed: the status says to enter the key again
    return IntegrationStatus(
        platform=platform,
        connected=bool(row.credentials_enc),
        enabled=row.enabled,
        credential_hint=hint,
        last_success_at=row.last_success_at,
        last_error_at=row.last_error_at,
        last_error=row.last_error,
    )


async def list_integrations(*, shop: Shop, box: SecretBox) -> list[IntegrationStatus]:
    """Every platform, connected or not, in a fixed order."""
    rows = {row.platform: row for row in await Integration.filter(shop_id=shop.id)}
    return [_status(platform, rows.get(platform), box) for platform in Platform]


async def get_integration(*, shop: Shop, platform: Platform, box: SecretBox) -> IntegrationStatus:
    row = await Integration.get_or_none(shop_id=shop.id, platform=platform)
    return _status(platform, row, box)


async def save_credentials(
    *,
    shop: Shop,
    platform: Platform,
    api_key: str,
    box: SecretBox,
    enabled: bool | None = None,
    now: datetime | None = None,
) -> IntegrationStatus:
    """Store the key (encrypted) and the enabled flag (absent: enabled on first connection,
    unchanged afterwards). A new key clears the recorded error. Raises ValidationError."""
    key = validate_api_key(platform, api_key)
    row = await Integration.get_or_none(shop_id=shop.id, platform=platform)
    if row is None:
        row, _ = await Integration.get_or_create(shop_id=shop.id, platform=platform)
        first_connection = True
    else:
        first_connection = not row.credentials_enc
    row.credentials_enc = box.encrypt(key)
    row.enabled = enabled if enabled is not None else (True if first_connection else row.enabled)
    row.last_error = None  # type: ignore[assignment]  # a nullable column
    row.last_error_at = None
    await row.save()
    if row.enabled:
        await release_held_intents(shop_id=shop.id, platform=platform, now=now)
    return _status(platform, row, box)


async def set_enabled(
    *, shop: Shop, platform: Platform, enabled: bool, box: SecretBox, now: datetime | None = None
) -> IntegrationStatus:
    """Enable or disable syncing. Raises IntegrationNotConnectedError when enabling a
    platform without a key. Disabling leaves queued syncs to complete as no-ops."""
    row = await Integration.get_or_none(shop_id=shop.id, platform=platform)
    if enabled and (row is None or not row.credentials_enc):
        raise IntegrationNotConnectedError(platform)
    if row is None:
        return _status(platform, None, box)
    if row.enabled != enabled:
        row.enabled = enabled
        await row.save(update_fields=["enabled", "updated_at"])
    if enabled:
        await release_held_intents(shop_id=shop.id, platform=platform, now=now)
    return _status(platform, row, box)


async def forget(*, shop: Shop, platform: Platform) -> None:
    """Delete the key and the status: the platform is disconnected (and so disabled)."""
    await Integration.filter(shop_id=shop.id, platform=platform).delete()


async def release_held_intents(
    *, shop_id: int, platform: Platform, now: datetime | None = None
) -> int:
    """Make the platform's intents held back by an earlier failure due now (a job claiming
    them right now keeps its claim: only holds that are not a live run's are shortened)."""
    now = now or utcnow()
    # A live run's claim ends at most CLAIM_FOR from now (it renews it); anything held longer
    # is a failure's hold, safe to end.
    return await OutboxIntent.filter(
        Q(last_error__isnull=False),
        shop_id=shop_id,
        job=str(PROFILE_SYNC_JOBS[platform]),
        completed_at__isnull=True,
        claimed_until__gt=now + CLAIM_FOR + timedelta(minutes=1),
    ).update(claimed_until=None)


async def record_outcome(
    *,
    shop_id: int,
    shop_label: str,
    platform: Platform,
    succeeded: bool,
    error: str | None,
    now: datetime | None = None,
) -> None:
    """What the admin shows: the time of the last success, and of the last error with why.
    The log says when the platform starts failing (WARNING) and when it recovers (INFO), not
    each failed run (loyalty.outages.INTEGRATIONS)."""
    if error:
        INTEGRATIONS.failing(shop_label, _NAMES[platform], error)
    elif succeeded:
        INTEGRATIONS.healthy(shop_label, _NAMES[platform])
    now = now or utcnow()
    changes: dict[str, object] = {}
    if succeeded:
        changes["last_success_at"] = now
    if error:
        changes.update(last_error=error[:2000], last_error_at=now)
    if changes:
        await Integration.filter(shop_id=shop_id, platform=platform).update(**changes)


async def test_connection(
    *,
    shop: Shop,
    platform: Platform,
    box: SecretBox,
    settings: Settings,
    http: httpx.AsyncClient,
    sleep: Sleep = asyncio.sleep,
) -> ConnectionTest:
    """Call the platform once with the saved key (a read, nothing written there) and record
    the outcome on the status. Never raises for the platform's answer: `ok` and `detail` say
    what happened, in plain words."""
    row = await Integration.get_or_none(shop_id=shop.id, platform=platform)
    name = _NAMES[platform]
    if row is None or not row.credentials_enc:
        return ConnectionTest(platform, False, f"No {name} API key is saved yet.")
    try:
        api_key = box.decrypt(row.credentials_enc)
    except SecretDecryptionError:
        return ConnectionTest(
            platform, False, f"The saved {name} key cannot be read any more; enter it again."
        )
    client = build_client(
        platform,
        api_key=api_key,
        shop_id=shop.id,
        settings=settings,
        http=http,
        pacer=None,
        sleep=sleep,
        max_attempts=2,
        timeout=5.0,
    )
    try:
        await client.check_connection()
    except PartnerError as exc:
        detail = f"{name} answered: {exc.detail}"
        await record_outcome(
            shop_id=shop.id,
            shop_label=shop.domain,
            platform=platform,
            succeeded=False,
            error=detail,
        )
        return ConnectionTest(platform, False, detail)
    await record_outcome(
        shop_id=shop.id, shop_label=shop.domain, platform=platform, succeeded=True, error=None
    )
    return ConnectionTest(platform, True, f"Connected to {name}: the API key works.")
