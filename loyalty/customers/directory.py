"""Finding a shop's customers for the admin: a searched, paginated list and one customer with
their tier, latest earning history and activity."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q, RawSQL

from loyalty.customers import lookup
from loyalty.customers.identifiers import parse_customer_identifier, parse_shopify_id
from loyalty.errors import CustomerNotFoundError
from loyalty.models import Activity, Customer, EarningHistoryEntry, Shop
from loyalty.reports import customer_counts

MAX_SEARCH_LENGTH = 255
RECENT_ITEMS = 20  # history entries and activity rows on a customer's page
# A search counts its matches up to this many (or to the end of the page asked for, if
# further): a broad term on a big shop matches tens of thousands of customers, and counting
# them all reads every match's row (bench/scale: 25,000 rows, 185-600 ms). Past it the page
# says "1,000+" and lets the merchant page on.
SEARCH_COUNT_LIMIT = 1_000
# What the admin's search looks in: email, first and last name joined by a newline, searched
# case-insensitively as one text (`icontains`: UPPER(CAST(… AS VARCHAR)) LIKE), so that
# PostgreSQL reads one trigram index (migration 0021, built on exactly this expression) instead
# of a BitmapOr of three, and estimates how many rows match from that index's statistics.
# A term without a newline matches the joined text exactly when it matches one of the three
# (an occurrence cannot straddle a separator without containing it). A term with one (no search
# form sends it) must also match a field by itself: still through the index (a field's match
# is a match of the joined text), where the per-field test alone scanned the table (1.7 s).
# Not done for every term: with both conditions the planner multiplies their selectivities,
# takes a broad term for a rare one and reads all its matches to sort them (bench/scale,
# `olivia.`: 113-268 ms instead of 0.6 ms walking the newest-first index).
SEARCH_SEPARATOR = "\n"
SEARCH_TEXT = (
    """(COALESCE("customer"."email", '') || '\n' || "customer"."first_name" || '\n' """
    """|| "customer"."last_name")"""
)


@dataclass(frozen=True, slots=True)
class CustomerPage:
    customers: list[Customer]  # each with `vip_tier` fetched
    total: int
    more: bool = False  # a search with more matches than `total` (counted up to a limit)


@dataclass(frozen=True, slots=True)
class CustomerDetail:
    customer: Customer  # with `vip_tier` fetched
    earning_history: list[EarningHistoryEntry]  # newest first, each with `rule` fetched
    activity: list[Activity]  # newest first


async def list_customers(
    *, shop: Shop, search: str | None = None, offset: int = 0, limit: int = 20
) -> CustomerPage:
    """The shop's customers, newest first. `search` matches email, first or last name
    (case-insensitive substring) or, when it is a number, the exact Shopify customer id; its
    matches are counted up to SEARCH_COUNT_LIMIT (or the page's end), `more` beyond, unless the
    page itself holds the last one."""
    query = Customer.filter(shop=shop)
    term = (search or "").strip()
    if term:
        query = query.annotate(search_text=RawSQL(SEARCH_TEXT))
        matches = Q(search_text__icontains=term)
        if SEARCH_SEPARATOR in term:
            matches &= (
                Q(email__icontains=term)
                | Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
            )
        shopify_id = parse_customer_identifier(term).shopify_customer_id
        if shopify_id is not None:
            matches |= Q(shopify_customer_id=shopify_id)
        query = query.filter(matches)
    customers = list(
        await query.select_related("vip_tier")
        .order_by("-created_at", "-id")
        .offset(offset)
        .limit(limit)
    )
    if not term:  # the shop's counts, not a count over every customer
        total = (await customer_counts.customer_counts(shop_id=shop.id)).everyone
        return CustomerPage(customers=customers, total=total)
    if len(customers) < limit and (customers or offset == 0):
        # The page holds the last match: no second search to count them (most searches).
        return CustomerPage(customers=customers, total=offset + len(customers))
    limit_of_count = max(SEARCH_COUNT_LIMIT, offset + limit)
    found = await query.limit(limit_of_count + 1).values_list("id", flat=True)
    return CustomerPage(
        customers=customers,
        total=min(len(found), limit_of_count),
        more=len(found) > limit_of_count,
    )


async def get_customer(*, shop: Shop, shopify_customer_id: str) -> CustomerDetail:
    """One customer by Shopify customer id. Raises CustomerNotFoundError (also for another
    shop's customer, or an id that is not a number)."""
    customer = await find_customer(shop=shop, shopify_customer_id=shopify_customer_id)
    await customer.fetch_related("vip_tier")
    history = (
        await EarningHistoryEntry.filter(customer_id=customer.id)
        .select_related("rule")
        .order_by("-created_at", "-id")
        .limit(RECENT_ITEMS)
    )
    activity = (
        await Activity.filter(customer_id=customer.id)
        .order_by("-created_at", "-id")
        .limit(RECENT_ITEMS)
    )
    return CustomerDetail(customer=customer, earning_history=list(history), activity=list(activity))


async def find_customer(*, shop: Shop, shopify_customer_id: str) -> Customer:
    """The shop's customer with this numeric Shopify id. Raises CustomerNotFoundError."""
    number = parse_shopify_id(shopify_customer_id)
    if number is None:
        raise CustomerNotFoundError(f"No customer {shopify_customer_id!r} exists for this shop")
    customer = await lookup.by_shopify_id(shop.id, number)
    if customer is None:
        raise CustomerNotFoundError(f"No customer {shopify_customer_id!r} exists for this shop")
    return customer
