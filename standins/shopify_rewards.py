"""Discount codes and store credit in the Shopify stand-in (standins/shopify_shop.py mixes
these in), behaving as Shopify does for what the app sends:

- `discountCodeBasicCreate` / `discountCodeFreeShippingCreate` / `discountCodeBxgyCreate`:
  `userErrors` (`DiscountUserError`) for a blank code or title, a code already used by any
  code discount of the shop (`TAKEN`, "Code must be unique. Please try a different code.",
  case-insensitive as Shopify's codes are), an end before the start, a percentage outside
  0–1, both a minimum subtotal and quantity, a BXGY with "all items" or a value other than
  `discountOnQuantity`, a customer that does not exist. Nothing is written on an error.
- `codeDiscountNodeByCode` (case-insensitive), `discountCodeDeactivate` (an ACTIVE code becomes
  EXPIRED with `endsAt` now; an unknown id is a userError on `id`).
- `customer(id) { storeCreditAccounts { nodes { balance transactions(query: "type:credit"
  |"type:debit", reverse) } } }`: the customer's accounts and their transactions, oldest first.
- `storeCreditAccountCredit` / `storeCreditAccountDebit` by customer id or account id: one
  account per (owner, currency), opened by the first credit; a debit beyond the balance is
  `INSUFFICIENT_FUNDS`, an unknown account `ACCOUNT_NOT_FOUND`, a non-positive amount
  `NEGATIVE_OR_ZERO_AMOUNT`, another currency than the account's `MISMATCHING_CURRENCY`.

Tests read `discount_codes` (by code, as sent) and `store_credit_balance(customer, currency)`.
Inputs the model does not know (segments, markets, expiring credit…) are errors naming them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from standins.shopify_errors import not_modelled

GID = "gid://shopify/"
TAKEN_MESSAGE = "Code must be unique. Please try a different code."
_CREATES = {
    "discountCodeBasicCreate": ("basicCodeDiscount", "DiscountCodeBasic"),
    "discountCodeFreeShippingCreate": ("freeShippingCodeDiscount", "DiscountCodeFreeShipping"),
    "discountCodeBxgyCreate": ("bxgyCodeDiscount", "DiscountCodeBxgy"),
}


@dataclass
class CodeDiscount:
    """A code discount as created: its input kept whole for tests to assert on."""

    id: str
    typename: str  # DiscountCodeBasic, DiscountCodeFreeShipping, DiscountCodeBxgy
    input: dict[str, Any]
    status: str = "ACTIVE"
    ends_at: str | None = None

    @property
    def customers(self) -> list[str]:
        context = self.input.get("context") or {}
        return list((context.get("customers") or {}).get("add") or [])

    def node(self) -> dict[str, Any]:
        context: dict[str, Any]
        if self.customers:
            customers = [{"__typename": "Customer", "id": gid} for gid in self.customers]
            context = {"__typename": "DiscountCustomers", "customers": customers}
        else:
            context = {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
        discount = {
            "__typename": self.typename,
            "title": self.input["title"],
            "context": context,
            "status": self.status,
            "startsAt": self.input["startsAt"],
            "endsAt": self.ends_at,
            "usageLimit": self.input.get("usageLimit"),
            "appliesOncePerCustomer": bool(self.input.get("appliesOncePerCustomer")),
        }
        return {"__typename": "DiscountCodeNode", "id": self.id, "codeDiscount": discount}


@dataclass
class StoreCreditAccount:
    id: str
    owner: str
    currency: str
    balance: Decimal = Decimal(0)
    transactions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(kw_only=True)
class RewardsModel:
    """The shop's code discounts and store credit accounts."""

    discount_codes: dict[str, CodeDiscount] = field(default_factory=dict)  # by code, as sent
    store_credit_accounts: list[StoreCreditAccount] = field(default_factory=list)
    _next_id: int = 1000

    def owner(self, gid: str) -> dict[str, Any] | None:  # ShopModel's: customers that exist
        raise NotImplementedError

    def new_id(self, kind: str) -> str:
        self._next_id += 1
        return f"{GID}{kind}/{self._next_id}"

    def discount_by_code(self, code: str) -> CodeDiscount | None:
        wanted = code.strip().casefold()
        return next(
            (d for c, d in self.discount_codes.items() if c.strip().casefold() == wanted), None
        )

    def store_credit_balance(self, customer_gid: str, currency: str) -> Decimal:
        account = self._account(customer_gid, currency)
        return account.balance if account else Decimal(0)

    def _account(self, owner: str, currency: str) -> StoreCreditAccount | None:
        return next(
            (a for a in self.store_credit_accounts if a.owner == owner and a.currency == currency),
            None,
        )


def _discount_error(field_path: list[str], message: str, code: str | None) -> dict[str, Any]:
    return {
        "__typename": "DiscountUserError",
        "field": field_path,
        "message": message,
        "code": code,
        "extraInfo": None,
    }


class RewardsRoot:
    """The Mutation and QueryRoot fields for discounts and store credit."""

    admin: RewardsModel

    def codeDiscountNodeByCode(self, code: str) -> dict[str, Any] | None:
        found = self.admin.discount_by_code(code)
        return found.node() if found else None

    def discountCodeBasicCreate(self, basicCodeDiscount: dict[str, Any]) -> dict[str, Any]:
        return self._create("discountCodeBasicCreate", basicCodeDiscount)

    def discountCodeFreeShippingCreate(
        self, freeShippingCodeDiscount: dict[str, Any]
    ) -> dict[str, Any]:
        return self._create("discountCodeFreeShippingCreate", freeShippingCodeDiscount)

    def discountCodeBxgyCreate(self, bxgyCodeDiscount: dict[str, Any]) -> dict[str, Any]:
        return self._create("discountCodeBxgyCreate", bxgyCodeDiscount)

    def discountCodeDeactivate(self, id: str) -> dict[str, Any]:
        found = next((d for d in self.admin.discount_codes.values() if d.id == id), None)
        if found is None:
            error = _discount_error(["id"], "Discount does not exist", None)
            return {"codeDiscountNode": None, "userErrors": [error]}
        if found.status != "EXPIRED":
            found.status = "EXPIRED"
            found.ends_at = datetime.now(UTC).isoformat()
        return {"codeDiscountNode": found.node(), "userErrors": []}

    def _create(self, mutation: str, data: dict[str, Any]) -> dict[str, Any]:
        argument, typename = _CREATES[mutation]
        _refuse_unmodelled(data)
        errors = _discount_errors(argument, typename, data)
        errors += self._context_errors(argument, data)
        code = str(data.get("code") or "")
        if code.strip() and self.admin.discount_by_code(code):
            errors.append(_discount_error([argument, "code"], TAKEN_MESSAGE, "TAKEN"))
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        discount = CodeDiscount(self.admin.new_id("DiscountCodeNode"), typename, data)
        discount.ends_at = data.get("endsAt")
        self.admin.discount_codes[code] = discount
        return {"codeDiscountNode": discount.node(), "userErrors": []}

    def _context_errors(self, argument: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        context = data.get("context")
        if context is None:
            return [_discount_error([argument, "context"], "Context can't be blank", "BLANK")]
        if set(context) - {"customers", "all"} or set(context.get("customers") or {}) - {"add"}:
            raise not_modelled("a discount context other than customers.add or all")
        return [
            _discount_error([argument, "context", "customers", "add", str(i)], message, "INVALID")
            for i, gid in enumerate((context.get("customers") or {}).get("add") or [])
            if (message := self._customer_problem(gid))
        ]

    def _customer_problem(self, gid: str) -> str | None:
        owner = self.admin.owner(gid)
        if owner is None or owner.get("__typename") != "Customer":
            return f"Customer with id {gid.rsplit('/', 1)[-1]} does not exist"
        return None

    def customer(self, id: str) -> dict[str, Any] | None:
        owner = self.admin.owner(id)
        if owner is None or owner.get("__typename") != "Customer":
            return None
        accounts = [a for a in self.admin.store_credit_accounts if a.owner == id]

        def store_credit_accounts(first: int | None = None, **others: Any) -> dict[str, Any]:
            if any(value is not None for value in others.values()) or first is None:
                raise not_modelled("storeCreditAccounts arguments other than first")
            return {"nodes": [_account_node(a) for a in accounts[:first]]}

        return owner | {"storeCreditAccounts": store_credit_accounts}

    def storeCreditAccountCredit(self, id: str, creditInput: dict[str, Any]) -> dict[str, Any]:
        if set(creditInput) - {"creditAmount", "notify"}:
            raise not_modelled("storeCreditAccountCredit inputs other than creditAmount, notify")
        return self._move("Credit", id, creditInput["creditAmount"], +1)

    def storeCreditAccountDebit(self, id: str, debitInput: dict[str, Any]) -> dict[str, Any]:
        return self._move("Debit", id, debitInput["debitAmount"], -1)

    def _move(self, kind: str, id: str, money: dict[str, Any], sign: int) -> dict[str, Any]:
        def refused(field_path: list[str], code: str, message: str) -> dict[str, Any]:
            error = {
                "__typename": f"StoreCreditAccount{kind}UserError",
                "field": field_path,
                "message": message,
                "code": code,
            }
            return {"storeCreditAccountTransaction": None, "userErrors": [error]}

        input_name = f"{kind.lower()}Input"
        amount_path = [input_name, f"{kind.lower()}Amount", "amount"]
        try:
            amount = Decimal(str(money["amount"]))
        except InvalidOperation:
            return refused(amount_path, "NEGATIVE_OR_ZERO_AMOUNT", "Amount is invalid")
        if amount <= 0:
            message = f"A positive amount must be used to {kind.lower()} a store credit account."
            return refused(amount_path, "NEGATIVE_OR_ZERO_AMOUNT", message)
        currency = str(money["currencyCode"])
        account = next((a for a in self.admin.store_credit_accounts if a.id == id), None)
        if account is None and id.startswith(f"{GID}StoreCreditAccount/"):
            return refused(["id"], "ACCOUNT_NOT_FOUND", "Store credit account does not exist")
        if account is None:
            if self.admin.owner(id) is None:
                if sign > 0:
                    return refused(["id"], "OWNER_NOT_FOUND", "Owner does not exist")
                return refused(["id"], "ACCOUNT_NOT_FOUND", "Store credit account does not exist")
            account = self.admin._account(id, currency)
        if account is not None and account.currency != currency:
            message = "The currency provided does not match the currency of the account."
            return refused(amount_path[:-1], "MISMATCHING_CURRENCY", message)
        if account is None and sign < 0:
            return refused(["id"], "ACCOUNT_NOT_FOUND", "Store credit account does not exist")
        if account is None:
            account = StoreCreditAccount(self.admin.new_id("StoreCreditAccount"), id, currency)
            self.admin.store_credit_accounts.append(account)
        if sign < 0 and amount > account.balance:
            message = "The store credit account does not have sufficient funds."
            return refused(amount_path[:-1], "INSUFFICIENT_FUNDS", message)
        account.balance += sign * amount
        transaction = {
            "__typename": f"StoreCreditAccount{kind}Transaction",
            "id": self.admin.new_id(f"StoreCreditAccount{kind}Transaction"),
            "amount": {"amount": str(sign * amount), "currencyCode": currency},
            "balanceAfterTransaction": {"amount": str(account.balance), "currencyCode": currency},
            "createdAt": datetime.now(UTC).isoformat(),
        }
        account.transactions.append(transaction)
        return {"storeCreditAccountTransaction": transaction, "userErrors": []}


def _account_node(account: StoreCreditAccount) -> dict[str, Any]:
    def transactions(
        first: int | None = None, reverse: bool = False, query: str | None = None, **others: Any
    ) -> dict[str, Any]:
        kinds = {"type:credit": "Credit", "type:debit": "Debit", None: ""}
        if (
            query not in kinds
            or first is None
            or others.pop("sortKey", "CREATED_AT") != "CREATED_AT"
        ):
            raise not_modelled("transactions other than first, reverse, query type:credit|debit")
        if any(value is not None for value in others.values()):
            raise not_modelled("transactions paging")
        wanted = f"StoreCreditAccount{kinds[query]}"
        chosen = [t for t in account.transactions if t["__typename"].startswith(wanted)]
        return {"nodes": (chosen[::-1] if reverse else chosen)[:first]}

    return {
        "__typename": "StoreCreditAccount",
        "id": account.id,
        "balance": {"amount": str(account.balance), "currencyCode": account.currency},
        "transactions": transactions,
    }


_MODELLED_INPUTS = {
    "title", "code", "startsAt", "endsAt", "context", "usageLimit", "appliesOncePerCustomer",
    "combinesWith", "minimumRequirement", "customerGets", "customerBuys", "destination",
    "usesPerOrderLimit",
}  # fmt: skip


def _refuse_unmodelled(data: dict[str, Any]) -> None:
    if unknown := sorted(set(data) - _MODELLED_INPUTS):
        raise not_modelled(f"discount inputs {unknown}")


def _discount_errors(argument: str, typename: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """What Shopify refuses in the input itself (before looking at the shop)."""
    errors = [
        _discount_error([argument, name], f"{label} can't be blank", "BLANK")
        for name, label in (("code", "Code"), ("title", "Title"), ("startsAt", "Starts at"))
        if not str(data.get(name) or "").strip()
    ]
    starts, ends = data.get("startsAt"), data.get("endsAt")
    if starts and ends and datetime.fromisoformat(ends) <= datetime.fromisoformat(starts):
        message = "Ends at needs to be after starts_at"
        errors.append(_discount_error([argument, "endsAt"], message, "END_DATE_BEFORE_START_DATE"))
    minimum = data.get("minimumRequirement") or {}
    if minimum.get("subtotal") and minimum.get("quantity"):
        message = "Minimum subtotal and quantity range cannot both be present"
        code = "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT"
        errors.append(_discount_error([argument, "minimumRequirement"], message, code))
    gets = data.get("customerGets")
    if typename != "DiscountCodeFreeShipping" and not gets:
        errors.append(
            _discount_error([argument, "customerGets"], "Customer gets is invalid", "BLANK")
        )
    value = (gets or {}).get("value") or {}
    percentage = value.get("percentage")
    if percentage is not None and not 0 < percentage <= 1:
        message = "Value must be between 0.0 and 1.0"
        path = [argument, "customerGets", "value", "percentage"]
        errors.append(_discount_error(path, message, "VALUE_OUTSIDE_RANGE"))
    if typename == "DiscountCodeBxgy":
        errors += _bxgy_errors(argument, data)
    return errors


def _bxgy_errors(argument: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    buys, gets = data.get("customerBuys") or {}, data.get("customerGets") or {}
    if not buys:
        errors.append(
            _discount_error([argument, "customerBuys"], "Customer buys is invalid", "BLANK")
        )
    for part, name in ((buys, "customerBuys"), (gets, "customerGets")):
        if (part.get("items") or {}).get("all"):
            message = "Items in 'customer buys' and 'customer gets' must be specified"
            errors.append(_discount_error([argument, name, "items"], message, "INVALID"))
    if set(gets.get("value") or {}) - {"discountOnQuantity"}:
        message = "Only discountOnQuantity is supported for BXGY discounts"
        errors.append(_discount_error([argument, "customerGets", "value"], message, "INVALID"))
    return errors
