"""How the loyalty state and events look on each marketing platform, and the calls one customer
takes there: a profile write carrying the current state, then each event.

Names follow each platform's conventions (Title Case properties on Klaviyo, snake_case on
Omnisend and Postscript, CamelCase Postscript event types) with a `Loyalty`/`loyalty_` prefix so
they never collide with the merchant's own fields. They are a contract with the merchant's flows:
never rename one.
"""

from __future__ import annotations

from typing import Any, Protocol

from loyalty.clock import isoformat_z
from loyalty.partners.klaviyo import KlaviyoClient
from loyalty.partners.omnisend import OmnisendClient
from loyalty.partners.postscript import PostscriptClient
from loyalty.sync.events import EventKind, LoyaltyEvent
from loyalty.sync.state import CustomerState

KLAVIYO_METRICS = {
    EventKind.POINTS_EARNED: "Loyalty Points Earned",
    EventKind.POINTS_PENDING: "Loyalty Points Pending",
    EventKind.POINTS_APPROVED: "Loyalty Points Approved",
    EventKind.VIP_TIER_CHANGED: "Loyalty VIP Tier Changed",
    EventKind.POINTS_EXPIRED: "Loyalty Points Expired",
    EventKind.POINTS_EXPIRING_SOON: "Loyalty Points Expiring Soon",
    EventKind.POINTS_REDEEMED: "Loyalty Points Redeemed",
    EventKind.REFERRAL_SENT: "Loyalty Referral Sent",
    EventKind.REFERRAL_COMPLETED: "Loyalty Referral Completed",
}
OMNISEND_EVENTS = {kind: name.lower() for kind, name in KLAVIYO_METRICS.items()}
POSTSCRIPT_TYPES = {kind: name.replace(" ", "") for kind, name in KLAVIYO_METRICS.items()}


def klaviyo_properties(state: CustomerState) -> dict[str, Any]:
    """`None` clears a property on Klaviyo (a customer who left every tier, no expiry)."""
    return {
        "Loyalty Points Balance": state.points_balance,
        "Loyalty Pending Points": state.pending_points,
        "Loyalty Lifetime Points": state.lifetime_points,
        "Loyalty VIP Tier": state.vip_tier,
        "Loyalty Member Status": state.status,
        "Loyalty Points Expiring": state.next_expiry_points,
        "Loyalty Points Expiry Date": (
            state.next_expiry_date.isoformat() if state.next_expiry_date else None
        ),
        "Loyalty Last Activity At": isoformat_z(state.last_activity_at),
        "Loyalty Referral Code": state.referral_code,
        "Loyalty Referral URL": state.referral_url,
    }


def snake_properties(state: CustomerState) -> dict[str, Any]:
    """Omnisend and Postscript: the same figures, snake_case. Types stay stable (a property's
    type is fixed by its first value there), so a missing tier is "" and a missing expiry date
    is left out rather than sent as null."""
    properties: dict[str, Any] = {
        "loyalty_points_balance": state.points_balance,
        "loyalty_pending_points": state.pending_points,
        "loyalty_lifetime_points": state.lifetime_points,
        "loyalty_vip_tier": state.vip_tier or "",
        "loyalty_member_status": state.status,
        "loyalty_points_expiring": state.next_expiry_points,
    }
    if state.next_expiry_date:
        properties["loyalty_points_expiry_date"] = state.next_expiry_date.isoformat()
    if state.last_activity_at:
        properties["loyalty_last_activity_at"] = isoformat_z(state.last_activity_at)
    if state.referral_code and state.referral_url:
        properties["loyalty_referral_code"] = state.referral_code
        properties["loyalty_referral_url"] = state.referral_url
    return properties


def event_properties(event: LoyaltyEvent, state: CustomerState) -> dict[str, Any]:
    """The event's own figures plus the customer's state after it, so a flow can show the
    balance without a lookup."""
    return {
        **event.properties,
        "points_balance": state.points_balance,
        "pending_points": state.pending_points,
        "lifetime_points": state.lifetime_points,
        "vip_tier": state.vip_tier,
        "first_name": state.first_name,
    }


class CustomerSync(Protocol):
    @property
    def requests_sent(self) -> int:
        """Requests that reached the network so far (a failure with none was no attempt)."""
        ...

    async def profile(self, state: CustomerState) -> bool:
        """Write the customer's current state; False when the platform has nowhere to put
        it (no email, not a Postscript subscriber): then no events are sent either."""
        ...

    async def event(self, state: CustomerState, event: LoyaltyEvent) -> None: ...


class KlaviyoSync:
    def __init__(self, client: KlaviyoClient) -> None:
        self._client = client

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent

    async def profile(self, state: CustomerState) -> bool:
        if not state.email:
            return False
        await self._client.upsert_profile(email=state.email, properties=klaviyo_properties(state))
        return True

    async def event(self, state: CustomerState, event: LoyaltyEvent) -> None:
        assert state.email is not None
        await self._client.create_event(
            email=state.email,
            metric=KLAVIYO_METRICS[event.kind],
            properties=event_properties(event, state),
            time=event.occurred_at,
            unique_id=event.key,
        )


class OmnisendSync:
    def __init__(self, client: OmnisendClient) -> None:
        self._client = client

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent

    async def profile(self, state: CustomerState) -> bool:
        if not state.email:
            return False
        await self._client.upsert_contact(email=state.email, properties=snake_properties(state))
        return True

    async def event(self, state: CustomerState, event: LoyaltyEvent) -> None:
        assert state.email is not None
        await self._client.send_event(
            email=state.email,
            name=OMNISEND_EVENTS[event.kind],
            key=event.key,
            time=event.occurred_at,
            properties=event_properties(event, state),
        )


class PostscriptSync:
    def __init__(self, client: PostscriptClient) -> None:
        self._client = client
        self._subscribers: dict[int, str] = {}

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent

    async def profile(self, state: CustomerState) -> bool:
        subscriber = await self._client.find_subscriber(
            shopify_customer_id=state.shopify_customer_id, email=state.email
        )
        if subscriber is None:
            return False  # not an SMS subscriber: never create one (that starts an opt-in)
        self._subscribers[state.id] = subscriber
        await self._client.update_properties(
            subscriber_id=subscriber, properties=snake_properties(state)
        )
        return True

    async def event(self, state: CustomerState, event: LoyaltyEvent) -> None:
        await self._client.send_event(
            type=POSTSCRIPT_TYPES[event.kind],
            subscriber_id=self._subscribers[state.id],
            email=state.email,
            time=event.occurred_at,
            properties=event_properties(event, state),
            external_id=event.key,
        )
