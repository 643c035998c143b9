"""What the rewards tests share: a connected shop, rewards made through the catalogue (so they
are what the admin would save), customers holding lots, and reading back what a redemption
wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox
from loyalty.models import (
    Activity,
    Customer,
    EarningHistoryEntry,
    OutboxIntent,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.rewards.catalogue import RewardFields, create_reward
from tests.factories import create_customer, create_shop
from tests.loyalty.lifecycle.entries import create_entry

SECRET_KEY = "test-secret-key-0123456789abcdef"  # conftest's settings.secret_key


async def connected_shop(**overrides: Any) -> Shop:
    """A shop that opened the app: an encrypted offline token valid for an hour."""
    box = SecretBox(SECRET_KEY)
    now = utcnow()
    fields: dict[str, Any] = {
        "access_token_enc": box.encrypt("shpat_current"),
        "access_token_expires_at": now + timedelta(hours=1),
        "refresh_token_enc": box.encrypt("shprt_current"),
        "refresh_token_expires_at": now + timedelta(days=90),
        "installed_at": now,
    }
    fields.update(overrides)
    return await create_shop(**fields)


async def reward(shop: Shop, **overrides: Any) -> Reward:
    """$5 off for 500 points, its code valid 30 days, unless told otherwise."""
    fields: dict[str, Any] = {
        "name": "$5 off",
        "kind": RewardKind.FIXED_AMOUNT,
        "points_cost": 500,
        "value": Decimal("5.00"),
        "code_validity_days": 30,
    }
    fields.update(overrides)
    return await create_reward(shop_id=shop.id, data=RewardFields(**fields))


def ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def customer_with_lots(shop: Shop, *lots: tuple[int, int | None], **kw: Any) -> Customer:
    """A customer whose balance is these lots: (points, expires in days or None), given in
    order, oldest first."""
    customer = await create_customer(shop, **kw)
    for n, (points, expires_in) in enumerate(lots):
        await create_entry(
            customer,
            points=points,
            base_points=points,
            points_given_at=ago(100 - n),
            points_expiry_at=None if expires_in is None else ago(-expires_in),
        )
    return await Customer.get(id=customer.id)


async def lots_left(customer: Customer) -> list[int]:
    return list(
        await EarningHistoryEntry.filter(customer_id=customer.id)
        .order_by("id")
        .values_list("points_remaining", flat=True)
    )


async def kinds(customer: Customer) -> list[str]:
    return list(
        await Activity.filter(customer_id=customer.id).order_by("id").values_list("kind", flat=True)
    )


async def intents(customer: Customer) -> list[tuple[str, dict[str, Any]]]:
    rows = (
        await OutboxIntent.filter(customer_id=customer.id)
        .order_by("id")
        .values_list("job", "payload")
    )
    return [(str(job), dict(payload)) for job, payload in rows]  # type: ignore[call-overload]
