"""Finding who redeems what on PostgreSQL: the shop, its active reward and the customer in one
statement, the customer's row locked (the transaction's first statement; its writes are
loyalty.ledger.redemptions_pg), for one request or a batch of them
(loyalty.rewards.redeem_batch).

The ORM's query building and row conversion were most of the web process's time for a
redemption (py-spy under bench/redeem), so this read is hand-written; its rows become models
through the ORM's own loader (`_init_from_db`). The customer is matched as
loyalty.customers.lookup matches: by Shopify customer id, or by email, first enrolled first.
"""

from __future__ import annotations

from collections.abc import Sequence
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
def _find_sql() -> str:
    selected = ", ".join(
        f"{alias}.{column} AS {alias}__{column}"
        for model, alias in _ALIASES.items()
        for column in _columns(model)
    )
    # One row per request that found its customer (`q.n`: the request's position). The
    # customer's row alone is locked (`OF c`): the shop and the reward are read as any request
    # reads them. Rows are locked in customer order (the sort runs below the locking), the order
    # every batch takes them in, so two batches never wait on each other in a cycle. The two
    # identifier kinds are two sub-selects, each served by its index (a request sets one).
    # `key_ok`: the API key the request authenticated with (if any) is the shop's and not
    # revoked, read now, so a key cached as verified (web.auth.api_key) is re-verified here.
    return f"""
SELECT q.n, {selected},
       q.api_key_id IS NULL OR EXISTS (
           SELECT 1 FROM api_key k
           WHERE k.id = q.api_key_id AND k.shop_id = s.id AND k.revoked_at IS NULL) AS key_ok
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])
    WITH ORDINALITY AS q(shop_id, reward_id, shopify_customer_id, email_key, api_key_id, n)
JOIN shop s ON s.id = q.shop_id
JOIN customer c ON c.id = coalesce(
    (SELECT id FROM customer
     WHERE shop_id = q.shop_id AND shopify_customer_id = q.shopify_customer_id LIMIT 1),
    (SELECT id FROM customer
     WHERE shop_id = q.shop_id AND email_key = q.email_key ORDER BY id LIMIT 1))
LEFT JOIN reward r ON r.shop_id = s.id AND r.public_id = q.reward_id AND r.is_active
ORDER BY c.id
FOR UPDATE OF c
"""


@dataclass(frozen=True, slots=True)
class Found:
    shop: Shop
    reward: Reward | None  # None: no active reward of the shop's with that id
    customer: Customer  # its row locked until the transaction ends
    key_ok: bool  # the request's API key (if any) is the shop's and not revoked


def _load(model: type[Model], row: dict[str, Any]) -> Any:
    prefix = _ALIASES[model] + "__"
    return model._init_from_db(
        **{k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
    )


@dataclass(frozen=True, slots=True)
class Wanted:
    """Who redeems what: the shop, the reward's public id, the customer's identifier, and the
    API key the request authenticated with (None: not an API request)."""

    shop_id: int
    reward_id: str
    identifier: CustomerIdentifier
    api_key_id: int | None = None


async def find_and_lock(wanted: Sequence[Wanted]) -> list[Found | None]:
    """Per request, in order: the shop, its active reward and the customer, the customer's row
    locked (call inside the transaction), in one statement. None: no such customer (or shop);
    the caller finds out which refusal."""
    found: list[Found | None] = [None] * len(wanted)
    asked = [w for w in wanted if not w.identifier.matches_nothing]
    if not asked:
        return found
    rows = await sql.fetch_all(
        _find_sql(),
        [w.shop_id for w in wanted],
        [w.reward_id for w in wanted],
        [w.identifier.shopify_customer_id for w in wanted],
        [w.identifier.email_key for w in wanted],
        [w.api_key_id for w in wanted],
    )
    for row in rows:
        reward = _load(Reward, row) if row["r__id"] is not None else None
        shop, customer = _load(Shop, row), _load(Customer, row)
        found[int(row["n"]) - 1] = Found(shop, reward, customer, bool(row["key_ok"]))
    return found
