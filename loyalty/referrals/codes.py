"""Each member's referral code and link.

A code is 8 characters of `A-Z2-9` without the look-alikes 0 O 1 I (32⁸ ≈ 10¹², so guessing
one of a shop's codes takes about a billion tries per member), stored upper case and unique per
shop, looked up case-insensitively. It is made the first time anything asks for it and never
changes, so every surface (API, widget, metafields, marketing profiles) shows the same one.
Concurrent first uses agree: the insert is `ON CONFLICT DO NOTHING` and everyone reads back the
row that won; a code taken by another member is simply drawn again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from loyalty import sql
from loyalty.clock import utcnow

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 8
LANDING_PATH = "/apps/loyalty/r/"  # the app proxy (shopify.app.toml [app_proxy]) + web/proxy
_ATTEMPTS = 8

_INSERT_SQL = """
INSERT INTO referral_code (shop_id, customer_id, code, created_at)
SELECT $1, c.id, $3, $4 FROM customer c WHERE c.id = $2 AND c.shop_id = $1
ON CONFLICT DO NOTHING
"""


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_code(raw: str) -> str | None:
    """The stored form of a code someone typed or followed (trimmed, upper case), or None when
    it cannot be one of ours."""
    code = raw.strip().upper()
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def referral_url(shop_domain: str, code: str) -> str:
    """The link a member shares: the friend's landing page on the storefront, through the app
    proxy (so it works on any theme, and Shopify signs the request)."""
    return f"https://{shop_domain}{LANDING_PATH}{code}"


async def codes_for(*, shop_id: int, customer_ids: Iterable[int]) -> dict[int, str]:
    """Each customer's code (made for those who have none yet). Customers of another shop are
    left out."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    found = await _existing(shop_id, wanted)
    for customer_id in wanted:
        if customer_id not in found and (code := await _make(shop_id, customer_id)):
            found[customer_id] = code
    return found


async def code_for(*, shop_id: int, customer_id: int) -> str | None:
    """The customer's code; None when the customer is not the shop's."""
    return (await codes_for(shop_id=shop_id, customer_ids=[customer_id])).get(customer_id)


async def find_advocate(*, shop_id: int, code: str) -> int | None:
    """The id of the shop's customer whose code this is (any case), or None."""
    normalized = normalize_code(code)
    if normalized is None:
        return None
    row = await sql.fetch_one(
        "SELECT customer_id FROM referral_code WHERE shop_id = $1 AND code = $2",
        shop_id,
        normalized,
    )
    return None if row is None else int(row["customer_id"])


async def _existing(shop_id: int, customer_ids: list[int]) -> dict[int, str]:
    placeholders = ", ".join(f"${i + 2}" for i in range(len(customer_ids)))
    rows = await sql.fetch_all(
        f"SELECT customer_id, code FROM referral_code WHERE shop_id = $1 "
        f"AND customer_id IN ({placeholders})",
        shop_id,
        *customer_ids,
    )
    return {int(row["customer_id"]): str(row["code"]) for row in rows}


async def _make(shop_id: int, customer_id: int) -> str | None:
    for _ in range(_ATTEMPTS):
        await sql.execute(_INSERT_SQL, shop_id, customer_id, new_code(), utcnow())
        found = await _existing(shop_id, [customer_id])
        if customer_id in found:  # ours, or a concurrent first use's: the same from now on
            return found[customer_id]
        if not await sql.fetch_one(
            "SELECT 1 AS x FROM customer WHERE id = $1 AND shop_id = $2", customer_id, shop_id
        ):
            return None
    raise RuntimeError(f"no free referral code for customer {customer_id} in {_ATTEMPTS} draws")


async def links_for(
    *, shop_id: int, shop_domain: str, customer_ids: Iterable[int]
) -> dict[int, tuple[str, str]]:
    """Each customer's (code, URL), as the API's customer document and the metafields show."""
    found = await codes_for(shop_id=shop_id, customer_ids=customer_ids)
    return {cid: (code, referral_url(shop_domain, code)) for cid, code in found.items()}
