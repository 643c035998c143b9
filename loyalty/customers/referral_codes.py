"""Each member's referral code and link (loyalty.referrals shows them under its own name).

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

_CHUNK = 500  # customers per statement (two parameters each)


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
    """Each customer's code (made for those who have none yet, a few statements for any
    number). Customers of another shop are left out."""
    wanted = sorted(set(customer_ids))
    found: dict[int, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        found.update(await _codes(shop_id, wanted[start : start + _CHUNK]))
    return found


async def _codes(shop_id: int, wanted: list[int]) -> dict[int, str]:
    found = await _existing(shop_id, wanted)
    missing = await _the_shops(shop_id, [c for c in wanted if c not in found])
    for _ in range(_ATTEMPTS):
        if not missing:
            return found
        await _insert(shop_id, missing)
        made = await _existing(shop_id, missing)  # ours, or a concurrent first use's
        found.update(made)
        missing = [c for c in missing if c not in made]  # drew a code another member has
    raise RuntimeError(f"no free referral codes for customers {missing} in {_ATTEMPTS} draws")


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


async def _the_shops(shop_id: int, customer_ids: list[int]) -> list[int]:
    if not customer_ids:
        return []
    placeholders = ", ".join(f"${i + 2}" for i in range(len(customer_ids)))
    rows = await sql.fetch_all(
        f"SELECT id FROM customer WHERE shop_id = $1 AND id IN ({placeholders})",
        shop_id,
        *customer_ids,
    )
    return sorted(int(row["id"]) for row in rows)


async def _insert(shop_id: int, customer_ids: list[int]) -> None:
    """A fresh code for each customer, in one statement; a customer who has one meanwhile, or a
    code another member holds, is skipped (`ON CONFLICT DO NOTHING`)."""
    rows = " UNION ALL ".join(
        f"SELECT CAST(${2 * i + 3} AS BIGINT) AS cid, CAST(${2 * i + 4} AS TEXT) AS code"
        for i in range(len(customer_ids))
    )
    values: list[object] = []
    for customer_id in customer_ids:
        values += [customer_id, new_code()]
    await sql.execute(
        "INSERT INTO referral_code (shop_id, customer_id, code, created_at) "
        f"SELECT $1, v.cid, v.code, $2 FROM ({rows}) AS v WHERE v.cid IS NOT NULL "
        "ON CONFLICT DO NOTHING",
        shop_id,
        utcnow(),
        *values,
    )


async def links_for(
    *, shop_id: int, shop_domain: str, customer_ids: Iterable[int]
) -> dict[int, tuple[str, str]]:
    """Each customer's (code, URL), as the API's customer document and the metafields show."""
    found = await codes_for(shop_id=shop_id, customer_ids=customer_ids)
    return {cid: (code, referral_url(shop_domain, code)) for cid, code in found.items()}
