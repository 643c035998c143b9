"""Phone numbers and shipping addresses, reduced to digests the same-phone and same-address
rules compare, and recorded for every paid order's buyer (so an advocate's own details are known
by the time a friend's order arrives).

Only SHA-256 digests of the normalised value are kept: enough to compare, nothing to read back.
A phone is its digits (the last 10, so `+1 555…` and `555…` agree); an address is its first
line, postcode and country, lower case with punctuation and spaces removed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from loyalty import sql
from loyalty.models import FingerprintKind

_NOT_DIGIT = re.compile(r"\D")
_NOT_WORD = re.compile(r"[\W_]+")
MIN_PHONE_DIGITS = 7

_INSERT_SQL = """
INSERT INTO referral_fingerprint (shop_id, customer_id, kind, digest, created_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def phone_digests(phones: Iterable[str | None]) -> frozenset[str]:
    found = set()
    for phone in phones:
        digits = _NOT_DIGIT.sub("", phone or "")
        if len(digits) >= MIN_PHONE_DIGITS:
            found.add(_digest(digits[-10:]))
    return frozenset(found)


def address_digests(addresses: Iterable[Mapping[str, Any] | None]) -> frozenset[str]:
    found = set()
    for address in addresses:
        if not address:
            continue
        parts = [str(address.get(name) or "") for name in ("address1", "zip", "country_code")]
        line = _NOT_WORD.sub("", parts[0].lower())
        if not line:
            continue
        found.add(_digest("|".join([line, _NOT_WORD.sub("", parts[1].lower()), parts[2].upper()])))
    return frozenset(found)


async def remember(
    *,
    shop_id: int,
    customer_id: int,
    phones: frozenset[str],
    addresses: frozenset[str],
    now: datetime,
) -> None:
    """Record the customer's digests (each once)."""
    for kind, digests in ((FingerprintKind.PHONE, phones), (FingerprintKind.ADDRESS, addresses)):
        for digest in sorted(digests):
            await sql.execute(_INSERT_SQL, shop_id, customer_id, str(kind), digest, now)
