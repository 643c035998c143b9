"""A shop's referral programme settings: read (defaults when never saved) and partially updated.

- `enabled`: off until the merchant turns it on.
- `friend_reward_id`: the friend's reward, one of the shop's rewards by public id. It becomes a
  discount code open to any buyer (the friend is usually not a Shopify customer yet), so store
  credit, which needs a customer account, is refused. Enabling needs one.
- `advocate_reward_id` (optional): a reward the advocate gets on top of the active `referral`
  rule's points (either alone is enough; with neither, a completed referral pays nothing).
- `disabled_checks`: fraud rules switched off (BlockReason values); every other one is on.
- `max_per_ip`, `max_per_device` per `window_hours`; `pending_days` until a pending referral
  expires.

Errors: `reward_not_found` (404), `invalid_referral_settings` (422, with the field's pointer).
The shop's programme metafield is rewritten (an intent) so the widget shows the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from tortoise.transactions import in_transaction

from loyalty.models import BlockReason, ReferralProgramme, Reward, RewardKind
from loyalty.outbox.intents import write_shop_sync_intent
from loyalty.referrals.errors import InvalidReferralSettingsError
from loyalty.rewards.catalogue import get_reward

MAX_LIMIT = 10_000
MAX_WINDOW_HOURS = 24 * 365
MAX_PENDING_DAYS = 3650
CHECKS = tuple(str(reason) for reason in BlockReason)


class ProgrammeChanges(TypedDict, total=False):
    enabled: bool
    friend_reward_id: str | None
    advocate_reward_id: str | None
    disabled_checks: list[str]
    max_per_ip: int
    max_per_device: int
    window_hours: int
    pending_days: int


@dataclass(frozen=True, slots=True)
class ProgrammeView:
    enabled: bool
    friend_reward_id: str | None
    friend_reward_name: str | None
    advocate_reward_id: str | None
    advocate_reward_name: str | None
    checks: dict[str, bool]  # every fraud rule: on or off
    max_per_ip: int
    max_per_device: int
    window_hours: int
    pending_days: int

    def check_on(self, reason: BlockReason) -> bool:
        return self.checks.get(str(reason), True)


async def load_programme(shop_id: int, *, for_update: bool = False) -> ReferralProgramme:
    """The shop's row, unsaved defaults when it has none (`for_update`: locked, created first
    so there is a row to lock: starts of one shop then run one at a time)."""
    if for_update:
        await ReferralProgramme.get_or_create(shop_id=shop_id)
        row = await ReferralProgramme.filter(shop_id=shop_id).select_for_update().first()
        assert row is not None
        return row
    found = await ReferralProgramme.get_or_none(shop_id=shop_id)
    return found or ReferralProgramme(shop_id=shop_id)


async def get_programme(*, shop_id: int) -> ProgrammeView:
    return await programme_view(await load_programme(shop_id))


async def update_programme(*, shop_id: int, changes: ProgrammeChanges) -> ProgrammeView:
    """Apply `changes` (only the keys present) and return the settings now in force."""
    async with in_transaction():
        row = await load_programme(shop_id, for_update=True)
        if "friend_reward_id" in changes:
            row.friend_reward_id = await _reward_pk(shop_id, changes["friend_reward_id"], "friend")
        if "advocate_reward_id" in changes:
            row.advocate_reward_id = await _reward_pk(
                shop_id, changes["advocate_reward_id"], "advocate"
            )
        if "disabled_checks" in changes:
            row.disabled_checks = _checks(changes["disabled_checks"])
        for name, top in (
            ("max_per_ip", MAX_LIMIT),
            ("max_per_device", MAX_LIMIT),
            ("window_hours", MAX_WINDOW_HOURS),
            ("pending_days", MAX_PENDING_DAYS),
        ):
            if name in changes:
                setattr(row, name, _bounded(name, changes[name], top))  # type: ignore[literal-required]
        if "enabled" in changes:
            row.enabled = bool(changes["enabled"])
        if row.enabled and row.friend_reward_id is None:
            raise InvalidReferralSettingsError(
                "Choose the friend's reward before turning referrals on",
                pointer="/friend_reward_id",
            )
        await row.save()
        await write_shop_sync_intent(shop_id=shop_id, reason={"referral_programme": True})
    return await programme_view(row)


async def _reward_pk(shop_id: int, public_id: str | None, whose: str) -> int | None:
    if public_id is None:
        return None
    reward = await get_reward(shop_id=shop_id, reward_id=public_id)
    if reward.kind == RewardKind.STORE_CREDIT and whose == "friend":
        raise InvalidReferralSettingsError(
            "Store credit needs a customer account, which a referred friend may not have yet: "
            "choose a discount reward",
            pointer="/friend_reward_id",
        )
    if reward.is_variable:
        raise InvalidReferralSettingsError(
            "A reward given for a referral has a fixed value: choose one that is not variable",
            pointer=f"/{whose}_reward_id",
        )
    return int(reward.id)


def _checks(disabled: list[str]) -> list[str]:
    unknown = sorted(set(disabled) - set(CHECKS))
    if unknown:
        raise InvalidReferralSettingsError(
            f"Unknown fraud rules: {', '.join(unknown)} (known: {', '.join(CHECKS)})",
            pointer="/disabled_checks",
        )
    return sorted(set(disabled))


def _bounded(name: str, value: int, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise InvalidReferralSettingsError(
            f"{name} must be a whole number from 1 to {top}", pointer=f"/{name}"
        )
    return value


async def programme_view(row: ReferralProgramme) -> ProgrammeView:
    ids = [i for i in (row.friend_reward_id, row.advocate_reward_id) if i is not None]
    rewards = {r.id: r for r in await Reward.filter(id__in=ids)} if ids else {}
    friend = rewards.get(row.friend_reward_id) if row.friend_reward_id else None
    advocate = rewards.get(row.advocate_reward_id) if row.advocate_reward_id else None
    disabled = set(row.disabled_checks or [])
    return ProgrammeView(
        enabled=row.enabled,
        friend_reward_id=friend.public_id if friend else None,
        friend_reward_name=friend.name if friend else None,
        advocate_reward_id=advocate.public_id if advocate else None,
        advocate_reward_name=advocate.name if advocate else None,
        checks={check: check not in disabled for check in CHECKS},
        max_per_ip=row.max_per_ip,
        max_per_device=row.max_per_device,
        window_hours=row.window_hours,
        pending_days=row.pending_days,
    )
