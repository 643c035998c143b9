"""`/app/…`: the embedded admin's pages, server-rendered with Jinja2 and Polaris web components.

Each page is verified like App Home (web.admin.documents.open_document: the ID token, the install
path, the bounce, the CSP header) and reads what it shows through the services; what a merchant
changes goes through the `/app/api` JSON endpoints from the page's small script (App Bridge
adds the ID token to `fetch`), so there is one write path and one set of validation messages.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.customers import compliance, directory, resync
from loyalty.customers.identifiers import ascii_number
from loyalty.earning import rules
from loyalty.earning.rules import OFFERED_CATEGORIES
from loyalty.errors import NotFoundError, VipTierNotFoundError
from loyalty.models import RuleCategory, Shop
from loyalty.reports import dashboard
from loyalty.shops import api_keys
from loyalty.shops.programme import MAX_POINTS_EXPIRY_DAYS
from loyalty.tiers import configuration as tiers
from loyalty.tiers import preview as tier_preview
from web.admin import charts, referral_pages, reward_pages
from web.admin import text as admin_text
from web.admin.documents import AdminDocument, open_document, render_document
from web.http.params import screen_params

PageContext = Callable[[Request, AdminDocument], Awaitable[dict[str, Any]]]

CUSTOMERS_PER_PAGE = 20

# Ways to earn, as the admin presents each category: its name, exactly when it awards (`help`,
# shown on the list and the form), and the `action` a rule of that category carries when the
# merchant does not choose one (social and engagement rules name their own; custom actions are
# awarded by their action key). Only categories something awards are offered for a new rule
# (loyalty.earning.rules.OFFERED_CATEGORIES); an existing rule of another is still listed.
CATEGORIES: dict[RuleCategory, dict[str, str]] = {
    RuleCategory.PURCHASE: {
        "label": "Purchases",
        "help": "Awarded when Shopify reports an order paid: these points for every unit of "
        "your currency in its subtotal after discounts, rounded down. Taken back when the "
        "order is cancelled, and in proportion when it is refunded.",
        "action": "place_order",
    },
    RuleCategory.SOCIAL: {
        "label": "Social",
        "help": "Awarded once per customer when they claim it in your storefront's loyalty "
        "widget after following your link, or when your own systems award it through the API.",
        "action": "",
    },
    RuleCategory.ENGAGEMENT: {
        "label": "Engagement",
        "help": "Awarded once per customer when they claim it in your storefront's loyalty "
        "widget, or when your own systems award it through the API (reading a guide, …).",
        "action": "",
    },
    RuleCategory.CUSTOM: {
        "label": "Custom actions",
        "help": "Awarded when your own systems send its action key to the API (a quiz, a "
        "review, a visit to your shop), once or repeatedly.",
        "action": "custom",
    },
    RuleCategory.BIRTHDAY: {
        "label": "Birthday",
        "help": "Awarded on each customer's birthday (in your shop's timezone), once a year, "
        "to customers whose birthday is known.",
        "action": "birthday",
    },
    RuleCategory.ANNIVERSARY: {
        "label": "Anniversary",
        "help": "Awarded each year on the day the customer's Shopify account was created (in "
        "your shop's timezone), from their first anniversary on.",
        "action": "anniversary",
    },
    RuleCategory.SIGNUP: {
        "label": "Sign-up",
        "help": "Awarded once per customer when Shopify creates their customer account after "
        "you add this rule; with new customer accounts that is their first sign-in. Not for "
        "customers who existed before the rule, nor those imported when the app was "
        "installed. Optionally only at their first paid order.",
        "action": "create_account",
    },
    RuleCategory.NEWSLETTER: {
        "label": "Newsletter",
        "help": "Awarded once per customer when they subscribe to your email marketing after "
        "you add this rule. Unsubscribing and subscribing again earns nothing more.",
        "action": "newsletter_signup",
    },
    RuleCategory.REFERRAL: {
        "label": "Referrals",
        "help": "Awarded to the member who shared their referral link when the friend's first "
        "paid order arrives, once per friend, if your referral programme is on and no fraud "
        "rule blocked it. Taken back when that order is cancelled or fully refunded. What the "
        "friend gets, and the fraud rules, are on the Referrals page.",
        "action": "referral",
    },
}
# What "Add a way to earn" offers: the categories something awards.
OFFERED = {
    category: info for category, info in CATEGORIES.items() if category in OFFERED_CATEGORIES
}
SOCIAL_NETWORKS = [
    ("follow_on_instagram", "Instagram"),
    ("follow_on_facebook", "Facebook"),
    ("follow_on_tiktok", "TikTok"),
    ("follow_on_x", "X (Twitter)"),
    ("subscribe_on_youtube", "YouTube"),
    ("follow_on_pinterest", "Pinterest"),
]
# (platform, name, what it gets, what its key is called there)
INTEGRATIONS = [
    (
        "klaviyo",
        "Klaviyo",
        "Profiles and loyalty events for email and SMS flows.",
        "Klaviyo private API key",
    ),
    (
        "omnisend",
        "Omnisend",
        "Contacts and loyalty events for email and SMS automations.",
        "Omnisend API key",
    ),
    (
        "postscript",
        "Postscript",
        "Subscriber properties and events for SMS journeys.",
        "Postscript private API key",
    ),
]


def page(template: str, context: PageContext) -> Callable[[Request], Awaitable[Response]]:
    """A document endpoint: verify (or bounce, or install), gather, render. An id of another
    shop, or of nothing, is a 404 page."""

    async def endpoint(request: Request) -> Response:
        document = await open_document(request)
        if isinstance(document, Response):
            return document
        try:
            screen_params(request.scope)  # after the ID token, like `screen_routes` on the mounts
            values = await context(request, document)
        except NotFoundError as exc:
            response = render_document(request, document, "app/not_found.html", detail=exc.detail)
            response.status_code = 404
            return response
        return render_document(request, document, template, **values)

    return endpoint


# Home ------------------------------------------------------------------------------------------


async def home_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    shop = document.shop
    stats = await dashboard.programme_stats(shop=shop)
    return {
        "stats": stats,
        "chart": charts.bar_chart(stats.daily_issued),
        "checklist": await dashboard.setup_checklist(shop=shop),
        "backfill": dashboard.backfill_status(shop),
        "theme_editor_url": _theme_editor_url(shop),
    }


def _theme_editor_url(shop: Shop) -> str:
    """The theme editor with our app embeds listed (the merchant switches ours on there)."""
    return f"https://{shop.domain}/admin/themes/current/editor?context=apps"


# Ways to earn ----------------------------------------------------------------------------------


async def rules_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    views = await rules.list_rules(shop=document.shop)
    grouped = {cat: [v for v in views if v.rule.category == cat] for cat in CATEGORIES}
    return {"categories": CATEGORIES, "offered": OFFERED, "grouped": grouped, "total": len(views)}


async def new_rule_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    raw = request.query_params.get("category", "")
    category = RuleCategory(raw) if raw in OFFERED_CATEGORIES else None
    return {
        "view": None,
        "category": category,
        "categories": OFFERED,
        "networks": SOCIAL_NETWORKS,
    }


async def edit_rule_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    view = await rules.get_rule(shop=document.shop, rule_id=request.path_params["rule_id"])
    return {
        "view": view,
        "category": view.rule.category,
        "categories": CATEGORIES,
        "networks": _networks_with(view.rule.action),
    }


def _networks_with(action: str) -> list[tuple[str, str]]:
    """The network choices, plus the rule's own action when it is not one of them."""
    if any(value == action for value, _ in SOCIAL_NETWORKS):
        return SOCIAL_NETWORKS
    return [*SOCIAL_NETWORKS, (action, action.replace("_", " ").capitalize())]


# VIP tiers -------------------------------------------------------------------------------------


async def tiers_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    preview = await tier_preview.preview_tiers(shop=document.shop)
    return {
        "tiers": await tiers.list_tiers(shop=document.shop),
        "members": {row.tier_id: row.customers for row in preview.tiers},
        "without_tier": preview.without_tier,
        "estimated": preview.estimated,
    }


async def new_tier_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    return {"tier": None, "preview": await tier_preview.preview_tiers(shop=document.shop)}


async def edit_tier_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    tier_id = request.path_params["tier_id"]
    found = [t for t in await tiers.list_tiers(shop=document.shop) if t.public_id == tier_id]
    if not found:
        raise VipTierNotFoundError(f"No VIP tier {tier_id!r} exists for this shop")
    preview = await tier_preview.preview_tiers(shop=document.shop, tier_id=tier_id)
    return {"tier": found[0], "preview": preview}


# Customers -------------------------------------------------------------------------------------


async def customers_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    search = request.query_params.get("search", "").strip()
    raw_page = request.query_params.get("page", "1")
    number = max(ascii_number(raw_page, maximum=999_999) or 1, 1)
    error = None
    if len(search) > directory.MAX_SEARCH_LENGTH:
        error = f"Search for at most {directory.MAX_SEARCH_LENGTH} characters"
        search = ""
    found = await directory.list_customers(
        shop=document.shop,
        search=search or None,
        offset=(number - 1) * CUSTOMERS_PER_PAGE,
        limit=CUSTOMERS_PER_PAGE,
    )
    pages = max(-(-found.total // CUSTOMERS_PER_PAGE), 1)
    return {
        "customers": found.customers,
        "total": found.total,
        "more": found.more,
        "search": search,
        "search_error": error,
        "page_number": number,
        "pages": pages,
        "backfill": dashboard.backfill_status(document.shop),
    }


async def customer_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    detail = await directory.get_customer(
        shop=document.shop, shopify_customer_id=request.path_params["customer_id"]
    )
    return {
        "detail": detail,
        "customer": detail.customer,
        "describe": admin_text.activity_sentence,
        "entry_label": admin_text.entry_label,
        **await reward_pages.customer_redemptions(
            document.shop, detail.customer.shopify_customer_id
        ),
    }


# Integrations, API keys, settings -----------------------------------------------------------


async def integrations_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    # The cards are drawn by the page's script from GET /app/api/integrations, the one place
    # that knows each platform's status (a key is never sent back to the browser).
    return {"platforms": INTEGRATIONS}


async def api_keys_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    return {"keys": await api_keys.list_api_keys(shop=document.shop)}


async def settings_context(request: Request, document: AdminDocument) -> dict[str, Any]:
    shop = document.shop
    return {
        "data_requests": await compliance.list_data_requests(shop=shop),
        "backfill": dashboard.backfill_status(shop),
        "resync": await resync.resync_status(shop=shop),
        "max_expiry_days": MAX_POINTS_EXPIRY_DAYS,
        "timezones": _timezones_with(shop.timezone),
    }


@cache
def _city_timezones() -> tuple[str, ...]:
    """IANA zones named after a place (not `Etc/GMT+3` or legacy aliases), for the menu."""
    region = re.compile(r"(Africa|America|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[\w/-]+")
    return ("UTC", *sorted(name for name in available_timezones() if region.fullmatch(name)))


def _timezones_with(current: str) -> list[str]:
    names = list(_city_timezones())
    return names if current in names else [current, *names]


# (path, template, context, route name): every page is a GET of one template.
PAGES: list[tuple[str, str, PageContext, str]] = [
    ("/app", "app/home.html", home_context, "admin.home"),
    ("/app/rules", "app/rules.html", rules_context, "admin.rules"),
    ("/app/rules/new", "app/rule_form.html", new_rule_context, "admin.rules.new"),
    ("/app/rules/{rule_id}", "app/rule_form.html", edit_rule_context, "admin.rules.edit"),
    ("/app/tiers", "app/tiers.html", tiers_context, "admin.tiers"),
    ("/app/tiers/new", "app/tier_form.html", new_tier_context, "admin.tiers.new"),
    ("/app/tiers/{tier_id}", "app/tier_form.html", edit_tier_context, "admin.tiers.edit"),
    *reward_pages.PAGES,  # the rewards catalogue
    *referral_pages.PAGES,  # the referral programme and its referrals
    ("/app/customers", "app/customers.html", customers_context, "admin.customers"),
    ("/app/customers/{customer_id}", "app/customer.html", customer_context, "admin.customers.show"),
    ("/app/integrations", "app/integrations.html", integrations_context, "admin.integrations"),
    ("/app/api-keys", "app/api_keys.html", api_keys_context, "admin.api_keys"),
    ("/app/settings", "app/settings.html", settings_context, "admin.settings"),
]

routes = [
    Route(path, page(template, context), methods=["GET"], name=name)
    for path, template, context, name in PAGES
]
