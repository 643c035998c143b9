"""`/app/referrals`: the Referrals page: the programme's settings (on/off, what the friend and the
advocate get, the fraud rules and their limits) and the referrals, filtered by status, with
**Approve** on a blocked one. Read-only: every change goes through `/app/api` (the programme
settings and the approval, web.admin.api.referrals), like every other admin page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from loyalty.customers.identifiers import ascii_number
from loyalty.earning import rules
from loyalty.models import ReferralStatus, RewardKind, RuleCategory
from loyalty.paging import Window
from loyalty.referrals import history, programme
from loyalty.rewards import catalogue
from web.admin.documents import AdminDocument

PageContext = Callable[[Request, AdminDocument], Awaitable[dict[str, Any]]]

PER_PAGE = 20

# Each status as the merchant reads it.
STATUSES: dict[str, dict[str, str]] = {
    ReferralStatus.PENDING: {
        "label": "Pending",
        "tone": "info",
        "help": "Waiting for the friend's first paid order",
    },
    ReferralStatus.FRIEND_CONVERTED: {
        "label": "Friend ordered",
        "tone": "info",
        "help": "Paying the advocate",
    },
    ReferralStatus.COMPLETED: {
        "label": "Completed",
        "tone": "success",
        "help": "The advocate was paid",
    },
    ReferralStatus.BLOCKED: {
        "label": "Blocked",
        "tone": "critical",
        "help": "A fraud rule stopped it; you may approve it",
    },
    ReferralStatus.EXPIRED: {
        "label": "Expired",
        "tone": "neutral",
        "help": "No first order in time",
    },
    ReferralStatus.REVERSED: {
        "label": "Reversed",
        "tone": "warning",
        "help": "The order was cancelled or refunded: the advocate's points went back",
    },
}

# Each fraud rule: what it blocks (the setting's label) and, on a blocked referral, why.
CHECKS: dict[str, dict[str, str]] = {
    "same_email": {
        "label": "The friend's email is the advocate's, however written (case, dots, +tags)",
        "reason": "Same email as the advocate",
    },
    "same_customer": {
        "label": "The friend's customer account is the advocate's",
        "reason": "The advocate's own account",
    },
    "same_phone": {
        "label": "The friend's order has a phone number the advocate used",
        "reason": "Same phone as the advocate",
    },
    "same_address": {
        "label": "The friend's order ships to an address the advocate used",
        "reason": "Ships to the advocate's address",
    },
    "friend_not_new": {
        "label": "The friend is not new (already a customer, or ordered before)",
        "reason": "Not a new customer",
    },
    "ip_limit": {
        "label": "Too many referrals from one IP address within the window",
        "reason": "Too many from one IP address",
    },
    "device_limit": {
        "label": "Too many referrals from one device within the window",
        "reason": "Too many from one device",
    },
    "advocate_order": {
        "label": "The friend's first order was placed by the advocate",
        "reason": "Order placed by the advocate",
    },
}


async def referrals_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    shop = document.shop
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    number = max(ascii_number(request.query_params.get("page", "1"), maximum=99_999) or 1, 1)
    found = await history.list_referrals(
        shop_id=shop.id,
        status=ReferralStatus(status) if status else None,
        window=Window(offset=(number - 1) * PER_PAGE, limit=PER_PAGE),
    )
    settings = await programme.get_programme(shop_id=shop.id)
    rewards = await catalogue.list_rewards(shop_id=shop.id)
    referral_rules = await rules.list_rules(shop=shop, category=RuleCategory.REFERRAL)
    return {
        "programme": settings,
        "referrals": found.items,
        "total": found.total,
        "status": status,
        "page_number": number,
        "pages": max(-(-found.total // PER_PAGE), 1),
        "statuses": STATUSES,
        "checks": CHECKS,
        # The friend's reward becomes a code open to any buyer: store credit needs an account.
        "friend_rewards": [r for r in rewards if r.kind != RewardKind.STORE_CREDIT],
        "advocate_rewards": rewards,
        "rule": next((v.rule for v in referral_rules if v.rule.is_active), None),
    }


# (path, template, context, route name), as web.admin.pages.PAGES.
PAGES: list[tuple[str, str, PageContext, str]] = [
    ("/app/referrals", "app/referrals.html", referrals_context, "admin.referrals"),
]
