"""Finding who redeems what on PostgreSQL: the shop, its active reward and the customer in one
statement, the customer's row locked (the transaction's first statement; its writes are
loyalty.ledger.redemptions_pg).

The ORM's query building and row conversion were most of the web process's time for a
redemption (py-spy under bench/redeem), so this read is hand-written; its rows become models
through the ORM's own loader (`_init_from_db`). The customer is matched as
loyalty.customers.lookup matches: by Shopify customer id, or by email, first enrolled first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tortoise.models import Model

from loyalty import sql
from loyalty.customers.identifiers import CustomerIdentifier
from loyalty.models import Customer, Reward, Shop

_ALIASES = {Shop: "s", Reward: "r", Customer: "c"}


def _columns(model: type[Model]) -> list[str]:
    """The columns the ORM's loader takes (known once Tortoise is initialised)."""
    meta = model._meta
    return [
        key
        for key, _, _ in (*meta.db_native_fields, *meta.db_default_fields, *meta.db_complex_fields)
    ]


@cache
def _find_sql(by_email: bool) -> str:
    selected = ", ".join(
        f"{alias}.{column} AS {alias}__{column}"
        for model, alias in _ALIASES.items()
        for column in _columns(model)
    )
    match = "email_key = $3 ORDER BY id" if by_email else "shopify_customer_id = $3"
    # The customer's row alone is locked (`OF c`): the shop and the reward are read as any
    # request reads them. Two statements for the two identifier kinds, so each plan uses its
    # index.
    return f"""
SELECT {selected}
FROM shop s
JOIN customer c ON c.id = (SELECT id FROM customer WHERE shop_id = $1 AND {match} LIMIT 1)
LEFT JOIN reward r ON r.shop_id = s.id AND r.public_id = $2 AND r.is_active
WHERE s.id = $1
FOR UPDATE OF c
"""


@dataclass(frozen=True, slots=True)
class Found:
    shop: Shop
    reward: Reward | None  # None: no active reward of the shop's with that id
    customer: Customer  # its row locked until the transaction ends


def _load(model: type[Model], row: dict[str, Any]) -> Any:
    prefix = _ALIASES[model] + "__"
    return model._init_from_db(
        **{k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
    )


async def find_and_lock(
    *, shop_id: int, reward_id: str, identifier: CustomerIdentifier
) -> Found | None:
    """The shop, its active reward and the customer, the customer's row locked (call inside
    the transaction). None: no such customer (or shop); the caller finds out which refusal."""
    if identifier.matches_nothing:
        return None
    by_email = identifier.shopify_customer_id is None
    value = identifier.email_key if by_email else identifier.shopify_customer_id
    row = await sql.fetch_one(_find_sql(by_email), shop_id, reward_id, value)
    if row is None:
        return None
    reward = _load(Reward, row) if row["r__id"] is not None else None
    return Found(_load(Shop, row), reward, _load(Customer, row))
