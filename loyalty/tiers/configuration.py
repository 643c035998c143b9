"""Configuring a shop's VIP tiers: list, create, partially update, delete.

A create or an edit owes the re-placement of the shop's customers on the tiers: its transaction
writes the intent of the `place_vip_tiers` job (loyalty.tiers.placement), which moves them
set-based after commit, so the merchant's request answers at once even on a shop with a million
customers. A delete re-places the tier's members in its own transaction, before the tier goes
(so no customer is ever left on a deleted tier, and the activity rows still name it). The jobs
owed are returned for the caller to dispatch after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from loyalty import ids
from loyalty.clock import utcnow
from loyalty.errors import ValidationError, VipTierNotFoundError
from loyalty.ledger.tier_reassignment import TierReassignment, reassign_tiers, resync_tier_members
from loyalty.models import Shop, VipTier
from loyalty.outbox.intents import write_shop_sync_intent
from loyalty.tiers.placement import queue_placement

# Field limits, shared with the admin API's request models.
MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 5000
MAX_POINTS_REQUIRED = 2_000_000_000  # fits the INT column
MIN_MULTIPLIER = Decimal("1.00")
MAX_MULTIPLIER = Decimal("10.00")
BADGE_COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"


class TierChanges(TypedDict, total=False):
    name: str
    description: str
    points_required: int
    points_multiplier: Decimal
    badge_color: str


@dataclass(frozen=True, slots=True)
class TierEdit:
    """The tier as committed (None once deleted), the customers who moved (a delete) or whether
    their re-placement was queued (a create or an edit: `placing`), the jobs owed."""

    tier: VipTier | None
    customers_moved: int
    jobs: list[str]
    placing: bool = False


async def list_tiers(*, shop: Shop) -> list[VipTier]:
    """Every tier of the shop, lowest threshold first (not paginated, as in the public API)."""
    return await VipTier.filter(shop=shop).order_by("points_required", "id")


async def create_tier(
    *,
    shop: Shop,
    name: str,
    points_required: int,
    points_multiplier: Decimal = MIN_MULTIPLIER,
    description: str = "",
    badge_color: str | None = None,
    staff_user_id: str | None = None,
) -> TierEdit:
    """Create a tier (`tier_…` id) and re-assign customers. Raises ValidationError
    `duplicate_threshold` when another tier of the shop has the same points_required."""
    async with in_transaction():
        await _lock_tiers(shop)
        await _check_threshold_free(shop, points_required)
        fields: TierChanges = {
            "name": name,
            "description": description,
            "points_required": points_required,
            "points_multiplier": points_multiplier,
        }
        if badge_color is not None:
            fields["badge_color"] = badge_color
        try:
            tier = await VipTier.create(
                public_id=ids.new_public_id(ids.VIP_TIER), shop=shop, **fields
            )
        except IntegrityError:  # a concurrent create that slipped past the check
            raise _duplicate_threshold(points_required) from None
        placing = await queue_placement(
            shop_id=shop.id,
            reason=_reason("created", tier),
            staff_user_id=staff_user_id,
            now=utcnow(),
        )
        await write_shop_sync_intent(shop_id=shop.id, reason=_reason("created", tier))
    return TierEdit(tier, 0, [placing], placing=True)


async def update_tier(
    *, shop: Shop, tier_id: str, changes: TierChanges, staff_user_id: str | None = None
) -> TierEdit:
    """Apply `changes` and queue the customers' re-placement when the threshold moved. Raises
    VipTierNotFoundError or ValidationError `duplicate_threshold`. Renaming a tier also
    re-syncs its members: their metafields and marketing profiles show the tier by name."""
    async with in_transaction():
        await _lock_tiers(shop)
        tier = await _find(shop, tier_id)
        fields = [name for name, value in changes.items() if getattr(tier, name) != value]
        if "points_required" in fields:
            await _check_threshold_free(shop, changes["points_required"], exclude=tier.id)
        if not fields:
            return TierEdit(tier, 0, [])
        tier.update_from_dict(dict(changes))
        try:
            await tier.save(update_fields=[*fields, "updated_at"])
        except IntegrityError:
            raise _duplicate_threshold(tier.points_required) from None
        jobs: set[str] = set()
        if "points_required" in fields:  # only the thresholds decide who is on which tier
            jobs.add(
                await queue_placement(
                    shop_id=shop.id,
                    reason=_reason("updated", tier),
                    staff_user_id=staff_user_id,
                    now=utcnow(),
                )
            )
        # The storefront's tier list (the programme metafield) follows every edit.
        await write_shop_sync_intent(shop_id=shop.id, reason=_reason("updated", tier))
        if "name" in fields:
            jobs.update(
                await resync_tier_members(
                    shop_id=shop.id, tier_id=tier.id, reason=_reason("renamed", tier)
                )
            )
    return TierEdit(tier, 0, sorted(jobs), placing="points_required" in fields)


async def delete_tier(*, shop: Shop, tier_id: str, staff_user_id: str | None = None) -> TierEdit:
    """Delete a tier, first moving its members to the tier their points now earn (or none).
    Raises VipTierNotFoundError."""
    async with in_transaction():
        await _lock_tiers(shop)
        tier = await _find(shop, tier_id)
        # Re-assign as if the tier were already gone, so the activity rows still name it as
        # the tier customers left (deleting first would null their tier through the FK).
        moved: TierReassignment = await reassign_tiers(
            shop_id=shop.id,
            staff_user_id=staff_user_id,
            reason=_reason("deleted", tier),
            without_tier_id=tier.id,
        )
        await tier.delete()
        await write_shop_sync_intent(shop_id=shop.id, reason=_reason("deleted", tier))
    return TierEdit(None, moved.customers_moved, moved.jobs)


async def _lock_tiers(shop: Shop) -> None:
    # One tier change per shop at a time (PostgreSQL; SQLite has one writer anyway), so each
    # re-assignment sees the tiers the previous one committed. NO KEY UPDATE does not block
    # awards, whose foreign-key checks only take KEY SHARE on the shop row.
    await Shop.filter(id=shop.id).select_for_update(no_key=True).first()


async def _find(shop: Shop, tier_id: str) -> VipTier:
    tier = await VipTier.get_or_none(shop=shop, public_id=tier_id)
    if tier is None:
        raise VipTierNotFoundError(f"No VIP tier {tier_id!r} exists for this shop")
    return tier


async def _check_threshold_free(
    shop: Shop, points_required: int, *, exclude: int | None = None
) -> None:
    # Checked first so PostgreSQL's transaction is never aborted by the unique index in the
    # common case; the index still decides under concurrency.
    query = VipTier.filter(shop=shop, points_required=points_required)
    if exclude is not None:
        query = query.exclude(id=exclude)
    if await query.exists():
        raise _duplicate_threshold(points_required)


def _duplicate_threshold(points_required: int) -> ValidationError:
    return ValidationError(
        f"Another VIP tier already starts at {points_required} points",
        pointer="/points_required",
        code="duplicate_threshold",
    )


def _reason(change: str, tier: VipTier) -> dict[str, str]:
    return {"reason": f"vip_tier_{change}", "vip_tier_id": tier.public_id}
