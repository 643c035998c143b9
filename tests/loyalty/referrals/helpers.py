"""What the referral tests share: a shop running the programme (a friend's reward, a referral
rule), an advocate with their code, and a friend's arrival."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.clock import utcnow
from loyalty.models import Customer, EarningRule, Referral, RuleCategory, Shop
from loyalty.referrals.codes import code_for
from loyalty.referrals.programme import ProgrammeChanges, update_programme
from loyalty.referrals.start import StartedReferral, start_referral
from tests.factories import create_customer, create_rule
from tests.loyalty.earning.earn_by_webhook import later, webhook_shop
from tests.loyalty.rewards.helpers import reward
from tests.shopify_webhooks import customer_payload, order_payload


async def referral_shop(points: int | None = 500, **changes: Any) -> Shop:
    """The webhook tests' shop with referrals on: a $5-off friend's reward, and (unless
    `points` is None) an active referral rule paying the advocate `points`."""
    shop = await webhook_shop()
    friend = await reward(shop, name="Friend $5 off")
    settings: ProgrammeChanges = {"enabled": True, "friend_reward_id": friend.public_id}
    settings.update(changes)  # type: ignore[typeddict-item]
    await update_programme(shop_id=shop.id, changes=settings)
    if points is not None:
        await referral_rule(shop, points=points)
    return shop


async def referral_rule(shop: Shop, **fields: Any) -> EarningRule:
    return await create_rule(
        shop, category=RuleCategory.REFERRAL, action="referral", name="Refer a friend", **fields
    )


async def advocate(shop: Shop, **fields: Any) -> tuple[Customer, str]:
    """A member and their referral code."""
    fields.setdefault("email", "ann.advocate@example.com")
    customer = await create_customer(shop, **fields)
    code = await code_for(shop_id=shop.id, customer_id=customer.id)
    assert code is not None
    return customer, code


async def arrive(
    shop: Shop,
    code: str,
    email: str = "fred.friend@example.com",
    *,
    ip: str | None = "203.0.113.7",
    device_id: str | None = None,
    now: datetime | None = None,
) -> StartedReferral:
    return await start_referral(
        shop=shop, code=code, friend_email=email, ip=ip, device_id=device_id, now=now or utcnow()
    )


async def stored(public_id: str) -> Referral:
    return await Referral.get(public_id=public_id)


def address(line: str, zip_code: str = "K2H7A8") -> dict[str, Any]:
    """A shipping address in the shape of Shopify's order example."""
    return {
        "first_name": "Fred",
        "last_name": "Friend",
        "address1": line,
        "address2": None,
        "city": "Ottawa",
        "zip": zip_code,
        "province": "Ontario",
        "country": "Canada",
        "country_code": "CA",
        "province_code": "ON",
        "phone": None,
        "company": None,
        "name": "Fred Friend",
        "latitude": None,
        "longitude": None,
    }


def paid_order(
    order_id: int,
    shopify_customer_id: int | None,
    email: str,
    *,
    created_at: str | None = None,
    ships_to: str = "1 Friend Road",
    phone: str | None = None,
    codes: tuple[str, ...] = (),
    subtotal: str = "100.00",
) -> dict[str, Any]:
    """An orders/paid body (Shopify's example) by this buyer: their account made at
    `created_at` (just now when not given: a new customer), shipped to `ships_to`, with its
    own default address, paying with `codes`."""
    customer = None
    if shopify_customer_id is not None:
        customer = customer_payload(
            shopify_customer_id,
            email=email,
            first_name="Fred",
            last_name=f"Buyer {shopify_customer_id}",
            created_at=created_at or later(),
            updated_at=later(2),
        )
        customer["default_address"].update(address1=f"{ships_to} (home)", phone=None)
        customer["phone"] = phone
    body = order_payload(order_id, customer=customer, email=email, subtotal=subtotal)
    body["shipping_address"] = address(ships_to) | {"phone": phone}
    body["billing_address"] = address(ships_to)
    body["phone"] = phone
    body["discount_codes"] = [
        {"code": code, "amount": "5.00", "type": "fixed_amount"} for code in codes
    ]
    return body
