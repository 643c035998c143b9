"""`/proxy/referral` and `/proxy/r/{code}`: referrals on the storefront, through the app proxy
(signature checked on the mount).

- `GET /proxy/referral` (JSON, for the widget's share panel): the programme's offer (what the
  friend gets, what the advocate gets) and, for the signed-in member, their code and link. Only
  the customer Shopify names (`logged_in_customer_id`) is ever read.
- `GET|POST /proxy/r/{code}` (HTML, the friend's landing, `/apps/loyalty/r/CODE` on the shop):
  the friend gives their email and gets their reward code (loyalty.referrals.start). Whatever a
  fraud rule decided, the friend reads one kind sentence: the reason is for the merchant only.
  Plain HTML, not `application/liquid`: nothing from the request is ever rendered as Liquid.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from loyalty import strict_json
from loyalty.clock import utcnow
from loyalty.customers import storefront
from loyalty.earning import rules
from loyalty.errors import NotFoundError
from loyalty.models import Customer, Reward, RuleCategory, Shop
from loyalty.referrals import codes, programme, start
from loyalty.referrals.errors import (
    InvalidEmailError,
    ReferralCodeNotFoundError,
    ReferralsDisabledError,
)
from loyalty.rewards import catalogue
from web.admin.templating import render
from web.errors import RequestError
from web.http.body import exceeds
from web.http.jsonapi import document_response
from web.http.params import screen_routes
from web.proxy.widget import customer_id_of, shop_of, throttle
from web.ratelimit import Limit
from web.state import services

# A friend submits the form once or twice; a script trying emails gets a 429 soon.
ADDRESS_START_LIMIT = Limit.per_minute(10, burst=5)
SHOP_START_LIMIT = Limit.per_minute(600, burst=100)
MAX_FORM_BYTES = 4096
MAX_DEVICE_LENGTH = 128
CODE_SHAPE = re.compile(r"[A-Za-z0-9]{1,16}")
# What the friend reads when no code is given, by the refusal's code (never the fraud reason).
REFUSALS = {
    "blocked": "We can't give you a code through this link. The gift is for friends who are "
    "new to our shop.",
    "referrals_disabled": "This gift has ended, but you are still welcome to shop with us.",
    "referral_code_not_found": "This link doesn't match any of our customers' invitations. "
    "Check it with the friend who sent it, or shop with us anyway.",
    "rate_limited": "Too many tries from here. Wait a minute and try again.",
    "already_given": "This email address already has its gift. Use the code you were shown "
    "on your first visit, from the same browser.",
}
HEADERS = {"Cache-Control": "no-store"}  # a page per friend and per answer


def _gift(reward: Reward | None, currency: str) -> dict[str, Any] | None:
    """A reward as the widget words it (in the shopper's language, so kind and value)."""
    if reward is None:
        return None
    value = None if reward.value is None else str(reward.value)
    return {"kind": str(reward.kind), "value": value, "currency": currency, "name": reward.name}


async def _offer(shop: Shop) -> tuple[programme.ProgrammeView, dict[str, Any]]:
    """The programme, and what the friend and the advocate get, as the storefront shows them."""
    settings = await programme.get_programme(shop_id=shop.id)
    rewards = {}
    for public_id in (settings.friend_reward_id, settings.advocate_reward_id):
        if public_id:
            rewards[public_id] = await catalogue.get_reward(shop_id=shop.id, reward_id=public_id)
    referral_rules = await rules.list_rules(shop=shop, category=RuleCategory.REFERRAL)
    points = next((v.rule.points for v in referral_rules if v.rule.is_active), None)
    currency = shop.currency_code
    return settings, {
        # As start_referral decides: the shop's programme and its referrals both on.
        "enabled": shop.programme_enabled and settings.enabled and bool(settings.friend_reward_id),
        "friend_reward": _gift(rewards.get(settings.friend_reward_id or ""), currency),
        "advocate_points": points,
        "advocate_reward": _gift(rewards.get(settings.advocate_reward_id or ""), currency),
    }


async def get_referral(request: Request) -> Response:
    """GET /proxy/referral: the offer, and the signed-in member's code and link."""
    shop = shop_of(request)
    _, offer = await _offer(shop)
    code = url = None
    shopify_id = customer_id_of(request)
    if offer["enabled"] and shopify_id is not None:
        customer = await Customer.get_or_none(shop=shop, shopify_customer_id=shopify_id)
        if customer is None:
            customer = await storefront.ensure_customer(shop=shop, shopify_customer_id=shopify_id)
        if not customer.is_excluded:
            code = await codes.code_for(shop_id=shop.id, customer_id=customer.id)
            url = codes.referral_url(shop.domain, code) if code else None
    attributes = {**offer, "signed_in": shopify_id is not None, "code": code, "url": url}
    document = {"type": "referral_offer", "id": shop.domain, "attributes": attributes}
    return document_response(document)


async def landing(request: Request) -> Response:
    """GET|POST /proxy/r/{code}: the friend's page: the offer and the email form, then the
    friend's code (or a kind refusal)."""
    shop = shop_of(request)
    raw = request.path_params["code"]
    known = CODE_SHAPE.fullmatch(raw) and await codes.find_advocate(shop_id=shop.id, code=raw)
    if not known:
        return _page(shop, {}, refusal="referral_code_not_found", status=404)
    _, offer = await _offer(shop)
    if not offer["enabled"]:
        return _page(shop, offer, refusal="referrals_disabled")
    if request.method == "GET":
        return _page(shop, offer)
    form = await _form(request)
    email = form.get("email", "")
    address = shopper_address(request)
    try:
        await throttle(
            request,
            (f"proxy:referral:{shop.id}:{address}", ADDRESS_START_LIMIT),
            (f"proxy:referral:{shop.id}", SHOP_START_LIMIT),
        )
    except RequestError:  # 429: said on the page, not as JSON
        return _page(shop, offer, email=email, refusal="rate_limited", status=429)
    try:
        started = await start.start_referral(
            shop=shop,
            code=raw,
            friend_email=email,
            ip=address,
            device_id=form.get("device", "")[:MAX_DEVICE_LENGTH] or None,
            now=utcnow(),
        )
    except InvalidEmailError:
        return _page(shop, offer, email=email, invalid_email=True, status=422)
    except (ReferralsDisabledError, ReferralCodeNotFoundError) as exc:
        return _page(shop, offer, refusal=exc.code)
    except NotFoundError:
        return _page(shop, offer, refusal="referral_code_not_found", status=404)
    if started.jobs:
        services(request).dispatcher.notify(shop.id, started.jobs)
    referral = started.referral
    if not started.same_device:  # a repeat from another browser: the code is the friend's
        return _page(shop, offer, refusal="already_given")
    if referral.status == "blocked" or not referral.friend_code:
        return _page(shop, offer, refusal="blocked")
    return _page(shop, offer, code=referral.friend_code)


def shopper_address(request: Request) -> str:
    """The shopper's address: Shopify's proxy forwards it in X-Forwarded-For (its own address is
    the connection's, which every shopper would share); the connection's without one."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    client = request.client.host if request.client else "unknown"
    return (forwarded or client)[:64]


async def _form(request: Request) -> dict[str, str]:
    """The landing form's fields (`email`, `device`): small, UTF-8, storable, first value each;
    anything else reads as an empty form (the email check then says so)."""
    if exceeds(request.headers.get("content-length"), MAX_FORM_BYTES):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return {}
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in {"email", "device"} and key not in fields and not strict_json.unstorable(value):
            fields[key] = value.strip()
    return fields


def _page(shop: Shop, offer: dict[str, Any], *, status: int = 200, **state: Any) -> Response:
    html = render(
        "proxy/referral_landing.html",
        shop_name=shop.name or shop.domain,
        offer=offer,
        friend=_words(offer.get("friend_reward")),
        refusal=REFUSALS.get(state.pop("refusal", ""), None),
        **state,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _words(gift: dict[str, Any] | None) -> str:
    """The friend's reward in a few words (the landing is in the shop's default language)."""
    if gift is None:
        return "a gift"
    if gift["kind"] == "fixed_amount" and gift["value"]:
        return f"{gift['value']} {gift['currency']} off"
    if gift["kind"] == "percentage" and gift["value"]:
        return f"{gift['value'].rstrip('0').rstrip('.')}% off"
    if gift["kind"] == "free_shipping":
        return "free shipping"
    return str(gift["name"])


routes = [
    Route("/referral", get_referral, methods=["GET"], name="proxy.referral"),
    Route("/r/{code}", landing, methods=["GET", "POST"], name="proxy.referral.landing"),
]
screen_routes(routes)  # a NUL or lone surrogate in a parameter: 400, once the signature is verified
