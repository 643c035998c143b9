"""A shop's programme settings: whether it runs, when points expire, its timezone and the
customer tag that excludes someone from it.

Settings apply from the moment they change: points already awarded keep the expiry date they
were given, and tagged customers are (un)excluded by the customer sync, not here.
"""

from __future__ import annotations

from functools import cache
from typing import TypedDict
from zoneinfo import available_timezones

from tortoise.transactions import in_transaction

from loyalty.errors import ValidationError
from loyalty.models import Shop
from loyalty.outbox.intents import write_shop_sync_intent

MIN_POINTS_EXPIRY_DAYS = 1
MAX_POINTS_EXPIRY_DAYS = 3650
MAX_TIMEZONE_LENGTH = 64
MAX_EXCLUSION_TAG_LENGTH = 255


class ProgrammeChanges(TypedDict, total=False):
    programme_enabled: bool
    points_expiry_days: int | None  # None: points never expire
    timezone: str
    exclusion_tag: str | None  # None: no tag excludes customers


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """An IANA timezone name this machine knows (`Europe/London`, `UTC`)."""
    return name in _timezones()


async def update_programme(*, shop: Shop, changes: ProgrammeChanges) -> Shop:
    """Apply `changes` to the shop's settings. Raises ValidationError `invalid_timezone`."""
    timezone = changes.get("timezone")
    if timezone is not None and not is_timezone(timezone):
        raise ValidationError(
            f"{timezone!r} is not an IANA timezone name (e.g. Europe/London)",
            pointer="/timezone",
            code="invalid_timezone",
        )
    fields = [name for name, value in changes.items() if getattr(shop, name) != value]
    if fields:
        shop.update_from_dict(dict(changes))
        async with in_transaction():
            await shop.save(update_fields=[*fields, "updated_at"])
            # The storefront shows the programme's state and expiry (the programme metafield).
            await write_shop_sync_intent(shop_id=shop.id, reason={"reason": "programme_updated"})
    return shop
