"""`/api/v1` points: adjust a balance by hand, read a customer's ledger, award an earning rule,
award a custom action; the resources they answer with (response models beside the routes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty import models as orm
from loyalty.clock import isoformat_z
from loyalty.earning import adjustments, history
from loyalty.earning.adjustments import Adjustment
from loyalty.earning.award import Actor, award_rule
from loyalty.earning.award import AwardedEntry as AwardedRecord
from loyalty.models import ActorType, EarningStatus
from web.http.body import read_json_object
from web.http.validation import parse_body
from web.public_api import requests
from web.public_api.context import identifier, notify, principal
from web.public_api.documents import (
    Document,
    ListDocument,
    Metadata,
    Model,
    NullableTime,
    PageMeta,
    Status,
    Time,
    multiplier,
    resource_id,
    respond,
    stamp,
)
from web.public_api.params import Filter, Listing
from web.public_api.spec import WRITE_ERRORS, Operation, Reply
from web.state import services

HISTORY = Listing(
    history.HISTORY_SORTS,
    {"status": Filter("Entries with this status", choices=tuple(str(s) for s in EarningStatus))},
)


class PointsAdjustmentAttributes(Model):
    shopify_customer_id: str
    adjustment: int = Field(description="As requested")
    points_before: int
    points_after: int
    current_points: int
    note: str | None
    applied_adjustment: int = Field(description="What moved the balance (a debit stops at zero)")
    lifetime_points: int
    earning_history_entry_id: str
    created_at: Time


class PointsAdjustment(Model):
    type: Literal["points_adjustment"] = "points_adjustment"
    id: str = resource_id("Shopify customer ID")
    attributes: PointsAdjustmentAttributes


def points_adjustment(adjustment: Adjustment) -> PointsAdjustment:
    shopify_id = str(adjustment.shopify_customer_id)
    return PointsAdjustment(
        id=shopify_id,
        attributes=PointsAdjustmentAttributes(
            shopify_customer_id=shopify_id,
            adjustment=adjustment.adjustment,
            points_before=adjustment.points_before,
            points_after=adjustment.points_after,
            current_points=adjustment.points_after,
            note=adjustment.note,
            applied_adjustment=adjustment.applied,
            lifetime_points=adjustment.lifetime_points,
            earning_history_entry_id=adjustment.entry_id,
            created_at=stamp(adjustment.created_at),
        ),
    )


class EarningHistoryEntryAttributes(Model):
    earning_rule_id: str | None
    action: str
    points: int
    base_points: int
    points_multiplier: float
    status: Status
    points_given_at: NullableTime
    points_due_at: NullableTime
    points_expiry_at: NullableTime
    order_id: str | None
    order_number: str | None
    shopify_date: NullableTime
    manual_intervention: bool
    note: str | None
    points_remaining: int = Field(description="Of this lot, still unspent")
    metadata: Metadata
    created_at: Time
    updated_at: Time


class EarningHistoryEntry(Model):
    type: Literal["earning_history_entry"] = "earning_history_entry"
    id: str = resource_id("cer_…")
    attributes: EarningHistoryEntryAttributes


def history_entry(entry: orm.EarningHistoryEntry) -> EarningHistoryEntry:
    """`rule` must have been fetched."""
    rule = entry.rule
    return EarningHistoryEntry(
        id=entry.public_id,
        attributes=EarningHistoryEntryAttributes(
            earning_rule_id=rule.public_id if rule is not None else None,
            action=entry.action,
            points=entry.points,
            base_points=entry.base_points,
            points_multiplier=multiplier(entry.points_multiplier),
            status=str(entry.status),
            points_given_at=isoformat_z(entry.points_given_at),
            points_due_at=isoformat_z(entry.points_due_at),
            points_expiry_at=isoformat_z(entry.points_expiry_at),
            order_id=str(entry.order_id) if entry.order_id is not None else None,
            order_number=entry.order_number,
            shopify_date=None,
            manual_intervention=entry.action == adjustments.ACTION,
            note=entry.note,
            points_remaining=entry.points_remaining,
            metadata=entry.metadata,
            created_at=stamp(entry.created_at),
            updated_at=stamp(entry.updated_at),
        ),
    )


class AwardedEntryAttributes(Model):
    earning_rule_id: str
    action: str
    points: int
    base_points: int
    points_multiplier: float
    status: Status
    points_given_at: NullableTime
    points_due_at: NullableTime
    points_expiry_at: NullableTime
    created_at: Time
    updated_at: Time


class AwardedEntry(Model):
    type: Literal["earning_history_entry"] = "earning_history_entry"
    id: str = resource_id("cer_…")
    attributes: AwardedEntryAttributes


def awarded_entry(entry: AwardedRecord) -> AwardedEntry:
    """An earning rule's award (the public API's award endpoint and the storefront's)."""
    return AwardedEntry(
        id=entry.public_id,
        attributes=AwardedEntryAttributes(
            earning_rule_id=entry.earning_rule_id,
            action=entry.action,
            points=entry.points,
            base_points=entry.base_points,
            points_multiplier=float(entry.points_multiplier),
            status=str(entry.status),
            points_given_at=isoformat_z(entry.points_given_at),
            points_due_at=isoformat_z(entry.points_due_at),
            points_expiry_at=isoformat_z(entry.points_expiry_at),
            created_at=stamp(entry.created_at),
            updated_at=stamp(entry.updated_at),
        ),
    )


def earning_history_entry(entry: AwardedRecord) -> dict[str, Any]:
    """An awarded entry as JSON values (the storefront's award answers with it too)."""
    return awarded_entry(entry).model_dump(mode="json")


class PointsAdjustmentDocument(Document[PointsAdjustment]):
    """`{"data": PointsAdjustment}`"""


class AwardedEntryDocument(Document[AwardedEntry]):
    """`{"data": AwardedEntry}`"""


class EarningHistoryEntryList(ListDocument[EarningHistoryEntry, PageMeta]):
    """`{"data": [EarningHistoryEntry, …], "meta": PageMeta}`"""


# Handlers ------------------------------------------------------------------------------------


async def adjust_customer_points(request: Request) -> Response:
    body = parse_body(requests.PointsAdjustmentRequest, await read_json_object(request))
    key = principal(request)
    adjusted = await adjustments.adjust_points(
        shop=key.shop,
        identifier=identifier(request),
        adjustment=body.adjustment,
        note=body.note or None,
        update_lifetime_points=body.update_lifetime_points,
        api_key_id=key.key_public_id,
    )
    notify(request, adjusted.jobs)
    return respond(PointsAdjustmentDocument(data=points_adjustment(adjusted)))


async def list_earning_history(request: Request) -> Response:
    query = HISTORY.parse(request.query_params)
    status = query.filters["status"]
    found = await history.list_history(
        shop_id=principal(request).shop.id,
        identifier=identifier(request),
        status=EarningStatus(status) if isinstance(status, str) else None,
        sort=query.sort,
        window=query.page.window,
    )
    return respond(
        EarningHistoryEntryList(
            data=[history_entry(entry) for entry in found.items],
            meta=PageMeta(**query.page.meta(found.total)),
        )
    )


async def award_earning_rule(request: Request) -> Response:
    body = parse_body(requests.AwardRequest, await read_json_object(request))
    key = principal(request)
    entry = await award_rule(
        shop=key.shop,
        rule_id=request.path_params["rule_id"],
        customer_identifier=body.customer_identifier,
        actor=Actor(ActorType.API_KEY, key.key_public_id),
        api_key_id=key.key_id,  # re-verified in the award's own statement
        outbox=services(request).dispatcher,
        batcher=services(request).award_batcher,
    )
    return respond(AwardedEntryDocument(data=awarded_entry(entry)), status=201)


OPERATIONS = (
    Operation(
        method="POST",
        path="/customers/{identifier}/points",
        name="api.customers.points",
        endpoint=adjust_customer_points,
        operation_id="adjustPoints",
        tag="Points",
        summary="Adjust a customer's points by hand",
        replies=(Reply(200, "The adjustment", PointsAdjustmentDocument),),
        errors=(*WRITE_ERRORS, 404, 422),
        description=(
            "Adds (positive) or takes away (negative) points, recorded in the ledger "
            "with this API key as the actor. The balance never goes below zero: a "
            "larger debit takes the whole balance (`applied_adjustment`). Lifetime "
            "points follow unless `update_lifetime_points` is false, and the VIP tier "
            "is recalculated. Excluded customers: 403 `customer_excluded`; a balance "
            "past 2^31-1: 422 `balance_limit`."
        ),
        request=(requests.PointsAdjustmentRequest,),
    ),
    Operation(
        method="GET",
        path="/customers/{identifier}/earning-history",
        name="api.customers.earning_history",
        endpoint=list_earning_history,
        operation_id="listEarningHistory",
        tag="Points",
        summary="A customer's points ledger",
        replies=(Reply(200, "A page of entries", EarningHistoryEntryList),),
        errors=(400, 401, 404),
        params=HISTORY.parameters(),
    ),
)
AWARD = Operation(
    method="POST",
    path="/earning-rules/{rule_id}/award",
    name="api.earning_rules.award",
    endpoint=award_earning_rule,
    operation_id="awardEarningRule",
    tag="Earning rules",
    summary="Award a social or engagement rule to a customer",
    replies=(Reply(201, "Awarded", AwardedEntryDocument),),
    errors=(*WRITE_ERRORS, 404, 409, 422),
    description=(
        "Once per customer and rule (a repeat is 409 `already_awarded`). Points = "
        "the rule's points × the customer's tier multiplier; `pending` when the "
        "rule has an approval time. Only `social` and `engagement` rules (422). "
        "Points that would take a balance past 2^31-1: 422 `balance_limit`."
    ),
    request=(requests.AwardRequest,),
)
