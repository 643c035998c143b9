"""A redemption's reward in Shopify: one discount code restricted to its customer (or, for a
referred friend, open to any buyer, single use), or store credit. Pure values in, pure values
out; the caller (a job) owns the redemption row.

Guarantees:
- Safe to call twice with the same input. `create_discount_code` creates the code and looks
  it up (`codeDiscountNodeByCode`) only when Shopify answers that the code is `TAKEN`, as it
  answers every create of a code that exists (codes are unique per shop): a re-run, or a run
  racing another, finds its code, never makes a second discount. One call per code, not two,
  on the path every redemption takes (bench/redeem: the worker's Shopify calls took the cores
  the web processes needed). A code found restricted to another customer (or to none) is not
  ours: `DiscountRefused` with `TAKEN`.
- Transient failures (network, 5xx, 429, `THROTTLED` beyond AdminApi's retries) raise
  AdminApi's exceptions (`ShopifyUnavailableError`, `ShopReauthRequiredError`) for the job to
  retry; Shopify's `userErrors` are permanent and come back as `DiscountRefused`.
- Store credit (`credit_store_credit`, `debit_store_credit`): Shopify offers no idempotency
  for it. The 2026-10 Admin schema gives `storeCreditAccountCredit`/`Debit` no key argument,
  does not list them among the mutations taking `@idempotent(key:)`, and a transaction has no
  field of ours (no note, reference or metafield) to find it by. What it allows: reading the
  customer's accounts' transactions. So a caller that may have reached Shopify before (it
  recorded the time of its first attempt, `since`) is answered with the transaction of the
  same kind, amount and currency made since then, if there is one (`already_done`), instead
  of a second one; transactions the caller knows belong to other operations are `exclude`d.
  Without `since` a second call is a second credit. Exact only while one operation per
  customer runs at a time (the caller's lease) and the caller excludes its other ones.

The GraphQL documents live in loyalty/shopify/operations.py; the variables are built here by
`discount_request`, which the contract tests validate against the pinned Admin schema.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeBasicCreate
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any

from loyalty.shopify.admin_api import AdminApi, ShopifyApiError
from loyalty.shopify.operations import (
    DISCOUNT_BASIC_CREATE,
    DISCOUNT_BXGY_CREATE,
    DISCOUNT_BY_CODE,
    DISCOUNT_DEACTIVATE,
    DISCOUNT_FREE_SHIPPING_CREATE,
    STORE_CREDIT_CREDIT,
    STORE_CREDIT_DEBIT,
    STORE_CREDIT_TRANSACTIONS,
    Operation,
)

log = logging.getLogger(__name__)

TAKEN = "TAKEN"  # DiscountErrorCode: "The input value is already taken."
# A free product is a BXGY discount, which cannot apply to "all items": with no minimum order
# it asks the customer to buy at least this much of the qualifying items.
LEAST_PURCHASE = Decimal("0.01")
CLOCK_SKEW = timedelta(minutes=2)  # how far Shopify's createdAt may lag our clock


@dataclass(frozen=True)
class CombinesWith:
    order: bool = False
    product: bool = False
    shipping: bool = False


class DiscountKind(StrEnum):
    FIXED_AMOUNT = "fixed_amount"
    PERCENTAGE = "percentage"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"


@dataclass(frozen=True)
class DiscountSpec:
    """One redemption's code. A spec Shopify could never accept raises ValueError when built
    (a reward misconfigured), so it never reaches a job that would retry it forever."""

    code: str  # chosen by us, unique per shop
    title: str
    kind: DiscountKind
    # gid://shopify/Customer/<id>: the only customer who may use it. None: any buyer (a
    # referred friend's code: they are usually not a Shopify customer yet), still single use.
    customer_gid: str | None
    value: Decimal = Decimal(0)  # amount off (shop currency) or percent, 0 < v <= 100
    free_variant_gid: str | None = None  # FREE_PRODUCT: the variant given free
    minimum_subtotal: Decimal | None = None
    # Empty (both): all products. One or the other, never both (Shopify takes one per discount).
    # FREE_PRODUCT: what the customer buys to qualify (BXGY has no "all items"): required.
    collection_gids: tuple[str, ...] = ()
    product_gids: tuple[str, ...] = ()
    combines_with: CombinesWith = CombinesWith()
    starts_at: datetime = field(kw_only=True)  # tz-aware
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if problem := _spec_problem(self):
            raise ValueError(f"discount {self.code!r}: {problem}")


def _spec_problem(spec: DiscountSpec) -> str | None:
    if not spec.code.strip() or not spec.title.strip():
        return "a code and a title are required"
    if spec.customer_gid is not None and not spec.customer_gid.startswith(
        "gid://shopify/Customer/"
    ):
        return "customer_gid must be a gid://shopify/Customer/<id>"
    if spec.starts_at.tzinfo is None or (spec.ends_at and spec.ends_at.tzinfo is None):
        return "starts_at and ends_at must be timezone-aware"
    if spec.ends_at is not None and spec.ends_at <= spec.starts_at:
        return "ends_at must be after starts_at"
    if spec.collection_gids and spec.product_gids:
        return "collections or products, not both"
    if spec.minimum_subtotal is not None and spec.minimum_subtotal <= 0:
        return "minimum_subtotal must be positive"
    if spec.kind is DiscountKind.FIXED_AMOUNT and spec.value <= 0:
        return "a fixed amount must be positive"
    if spec.kind is DiscountKind.PERCENTAGE and not 0 < spec.value <= 100:
        return "a percentage must be in (0, 100]"
    if spec.kind is DiscountKind.FREE_PRODUCT:
        if not spec.free_variant_gid:
            return "a free product needs free_variant_gid"
        if not (spec.collection_gids or spec.product_gids):
            return "a free product needs the collections or products that qualify"
    return None


@dataclass(frozen=True)
class DiscountCreated:
    discount_gid: str  # the code discount node's id
    already_existed: bool = False  # found by codeDiscountNodeByCode (a re-run), not created now


@dataclass(frozen=True)
class DiscountRefused:
    """Permanent: Shopify's userErrors (or our code taken by another discount)."""

    message: str
    codes: tuple[str, ...] = ()


def discount_request(spec: DiscountSpec) -> tuple[Operation, dict[str, Any]]:
    """The create mutation for the spec's kind and its variables."""
    common: dict[str, Any] = {
        "title": spec.title,
        "code": spec.code,
        "startsAt": spec.starts_at.isoformat(),
        "endsAt": spec.ends_at.isoformat() if spec.ends_at else None,
        "context": _context(spec),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "combinesWith": {
            "orderDiscounts": spec.combines_with.order,
            "productDiscounts": spec.combines_with.product,
            "shippingDiscounts": spec.combines_with.shipping,
        },
    }
    minimum = (
        {"subtotal": {"greaterThanOrEqualToSubtotal": _decimal(spec.minimum_subtotal)}}
        if spec.minimum_subtotal is not None
        else None
    )
    if spec.kind is DiscountKind.FREE_SHIPPING:
        body = common | {"destination": {"all": True}}
        if minimum:
            body["minimumRequirement"] = minimum
        return DISCOUNT_FREE_SHIPPING_CREATE, {"freeShippingCodeDiscount": body}
    if spec.kind is DiscountKind.FREE_PRODUCT:
        assert spec.free_variant_gid is not None  # checked when the spec was built
        buys = {"amount": _decimal(spec.minimum_subtotal or LEAST_PURCHASE)}
        body = common | {
            "customerBuys": {"value": buys, "items": _items(spec)},
            "customerGets": {
                "value": {"discountOnQuantity": {"quantity": "1", "effect": {"percentage": 1.0}}},
                "items": {"products": {"productVariantsToAdd": [spec.free_variant_gid]}},
            },
            "usesPerOrderLimit": 1,
        }
        return DISCOUNT_BXGY_CREATE, {"bxgyCodeDiscount": body}
    if spec.kind is DiscountKind.PERCENTAGE:
        # Shopify takes a fraction (0.00-1.00); 12.5 % is 0.125, exact in a float's 17 digits.
        value: dict[str, Any] = {"percentage": float(spec.value / 100)}
    else:
        value = {"discountAmount": {"amount": _decimal(spec.value), "appliesOnEachItem": False}}
    body = common | {"customerGets": {"value": value, "items": _items(spec)}}
    if minimum:
        body["minimumRequirement"] = minimum
    return DISCOUNT_BASIC_CREATE, {"basicCodeDiscount": body}


def _context(spec: DiscountSpec) -> dict[str, Any]:
    """Who may use the code: its customer, or every buyer (DiscountContextInput.all, 2026-10)."""
    if spec.customer_gid is None:
        return {"all": "ALL"}
    return {"customers": {"add": [spec.customer_gid]}}


def _decimal(value: Decimal) -> str:
    """Shopify's Decimal scalar as plain digits: `Decimal("1E+1")` is "10", never "1E+1"."""
    return format(value, "f")


def _items(spec: DiscountSpec) -> dict[str, Any]:
    if spec.collection_gids:
        return {"collections": {"add": list(spec.collection_gids)}}
    if spec.product_gids:
        return {"products": {"productsToAdd": list(spec.product_gids)}}
    return {"all": True}


async def create_discount_code(
    admin: AdminApi, shop_id: int, spec: DiscountSpec
) -> DiscountCreated | DiscountRefused:
    """The spec's code, live in Shopify: created, or found when it exists already (made by a
    previous run that died before recording it, or by a concurrent run)."""
    operation, variables = discount_request(spec)
    data = await admin.execute(shop_id, operation, variables)
    payload = next(iter(data.values()), None) or {}
    errors = payload.get("userErrors") or []
    if not errors and (node := payload.get("codeDiscountNode")):
        return DiscountCreated(str(node["id"]))
    if any(error.get("code") == TAKEN for error in errors):
        # The code exists: ours (an earlier or concurrent run of this redemption) or not.
        if found := await _find(admin, shop_id, spec):
            return found
    if not errors:
        raise ShopifyApiError(f"{operation.name}: neither a discount nor userErrors")
    return _refused(errors)


async def _find(
    admin: AdminApi, shop_id: int, spec: DiscountSpec
) -> DiscountCreated | DiscountRefused | None:
    """Ours (already created), someone else's (refused), or none."""
    data = await admin.execute(shop_id, DISCOUNT_BY_CODE, {"code": spec.code})
    node = data.get("codeDiscountNodeByCode")
    if node is None:
        return None
    context = (node.get("codeDiscount") or {}).get("context") or {}
    customers = [c.get("id") for c in context.get("customers") or []]
    open_to_all = spec.customer_gid is None and context.get("all") == "ALL"
    if open_to_all or (spec.customer_gid is not None and customers == [spec.customer_gid]):
        return DiscountCreated(str(node["id"]), already_existed=True)
    log.warning("shop %s: discount code %s belongs to another discount", shop_id, spec.code)
    return DiscountRefused(
        f"The code {spec.code} is already used by another discount in Shopify.", (TAKEN,)
    )


def _refused(errors: list[dict[str, Any]]) -> DiscountRefused:
    message = "; ".join(str(error.get("message")) for error in errors)
    codes = tuple(str(error["code"]) for error in errors if error.get("code"))
    return DiscountRefused(message, codes)


async def deactivate_discount_code(admin: AdminApi, shop_id: int, discount_gid: str) -> None:
    """The code can no longer be used. Deactivating twice is harmless; a discount that no
    longer exists (deleted by the merchant) cannot be used either, so it counts as done.
    Any other userError raises ShopifyApiError."""
    data = await admin.execute(shop_id, DISCOUNT_DEACTIVATE, {"id": discount_gid})
    payload = data.get("discountCodeDeactivate") or {}
    errors = payload.get("userErrors") or []
    if not errors:
        return
    if payload.get("codeDiscountNode") is None and all(_is_missing(e) for e in errors):
        log.info("shop %s: discount %s is gone, nothing to deactivate", shop_id, discount_gid)
        return
    raise ShopifyApiError(f"discountCodeDeactivate refused: {_refused(errors).message}")


def _is_missing(error: dict[str, Any]) -> bool:
    # Shopify's wording for an unknown id is not documented: any error on `id` means there is
    # no such discount to deactivate (the stand-in answers "Discount does not exist" on `id`).
    message = str(error.get("message")).lower()
    return error.get("field") == ["id"] or "does not exist" in message or "not found" in message


@dataclass(frozen=True)
class StoreCreditDone:
    transaction_gid: str
    already_done: bool = False  # found: made by an earlier attempt since `since`, not now


def store_credit_request(
    operation: Operation, customer_gid: str, amount: Decimal, currency: str
) -> dict[str, Any]:
    """Variables for STORE_CREDIT_CREDIT or STORE_CREDIT_DEBIT on the customer's account in
    `currency` (Shopify opens it on the first credit)."""
    name = "credit" if operation is STORE_CREDIT_CREDIT else "debit"
    money = {"amount": _decimal(amount), "currencyCode": currency}
    return {"id": customer_gid, f"{name}Input": {f"{name}Amount": money}}


async def _store_credit(
    admin: AdminApi,
    shop_id: int,
    *,
    customer_gid: str,
    amount: Decimal,
    currency: str,
    key: str,
    since: datetime | None = None,
    exclude: frozenset[str] = frozenset(),
    operation: Operation,
) -> StoreCreditDone | DiscountRefused:
    if since is not None:
        kind = "credit" if operation is STORE_CREDIT_CREDIT else "debit"
        made = await _made_since(admin, shop_id, kind, customer_gid, amount, currency, since)
        if found := next((gid for gid in made if gid not in exclude), None):
            log.info("shop %s: %s %s was done: %s", shop_id, operation.name, key, found)
            return StoreCreditDone(found, already_done=True)
    variables = store_credit_request(operation, customer_gid, amount, currency)
    data = await admin.execute(shop_id, operation, variables)
    payload = next(iter(data.values()), None) or {}
    errors = payload.get("userErrors") or []
    if errors:
        log.info("shop %s: %s %s refused: %s", shop_id, operation.name, key, errors)
        return _refused(errors)
    transaction = payload.get("storeCreditAccountTransaction")
    if not transaction:
        raise ShopifyApiError(f"{operation.name}: neither a transaction nor userErrors")
    log.info("shop %s: %s %s done: %s", shop_id, operation.name, key, transaction["id"])
    return StoreCreditDone(str(transaction["id"]))


async def _made_since(
    admin: AdminApi,
    shop_id: int,
    kind: str,
    customer_gid: str,
    amount: Decimal,
    currency: str,
    since: datetime,
) -> list[str]:
    """The customer's `kind` transactions of exactly `amount` in `currency` made since `since`
    (less CLOCK_SKEW: Shopify's clock is not ours), oldest first."""
    variables = {"customer": customer_gid, "query": f"type:{kind}"}
    data = await admin.execute(shop_id, STORE_CREDIT_TRANSACTIONS, variables)
    accounts = ((data.get("customer") or {}).get("storeCreditAccounts") or {}).get("nodes") or []
    earliest = since - CLOCK_SKEW
    found = [
        (datetime.fromisoformat(t["createdAt"]), str(t["id"]))
        for account in accounts
        for t in (account.get("transactions") or {}).get("nodes") or []
        if t["amount"]["currencyCode"] == currency
        and abs(Decimal(str(t["amount"]["amount"]))) == amount
        and datetime.fromisoformat(t["createdAt"]) >= earliest
    ]
    return [gid for _, gid in sorted(found)]


# credit_store_credit(admin, shop_id, *, customer_gid, amount, currency, key, since=None,
# exclude=frozenset()): add `amount` of store credit in `currency`; safe to repeat only with
# `since` (see the module's docstring).
credit_store_credit = partial(_store_credit, operation=STORE_CREDIT_CREDIT)
# debit_store_credit(…the same…): take it back; Shopify refuses (`INSUFFICIENT_FUNDS`) below a
# zero balance, which comes back as DiscountRefused (the customer has spent it).
debit_store_credit = partial(_store_credit, operation=STORE_CREDIT_DEBIT)
