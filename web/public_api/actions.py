"""`POST /api/v1/actions`: award a custom action by its `action_key`, safely retried with an
idempotency key; the document it answers with (stored as is for replays)."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty.clock import isoformat_z
from loyalty.earning import custom_actions
from loyalty.earning.custom_actions import ActionAward
from loyalty.models import EarningStatus
from web.http.body import read_json_object
from web.http.jsonapi import document_response
from web.http.validation import parse_body
from web.public_api import requests
from web.public_api.context import notify, principal
from web.public_api.documents import (
    Document,
    Metadata,
    Model,
    NullableTime,
    Status,
    Time,
    multiplier,
    resource_id,
    stamp,
)
from web.public_api.spec import WRITE_ERRORS, Operation, Reply


class CustomActionAwardAttributes(Model):
    earning_rule_id: str
    action: Literal["custom"]
    action_key: str
    result: Literal["awarded", "pending"]
    shopify_customer_id: str
    points: int
    base_points: int
    points_multiplier: float
    status: Status
    points_balance: int = Field(description="Spendable balance after it")
    idempotency_key: str | None
    replayed: bool = Field(description="true: the response of a repeat")
    metadata: Metadata
    points_given_at: NullableTime
    points_due_at: NullableTime
    points_expiry_at: NullableTime
    created_at: Time
    updated_at: Time


class CustomActionAward(Model):
    type: Literal["earning_history_entry"] = "earning_history_entry"
    id: str = resource_id("cer_…")
    attributes: CustomActionAwardAttributes


class CustomActionAwardDocument(Document[CustomActionAward]):
    """`{"data": CustomActionAward}`"""


def custom_action_award(done: ActionAward) -> dict[str, Any]:
    """The whole response document, as JSON values (it is stored as is for idempotent
    replays)."""
    document = CustomActionAwardDocument(
        data=CustomActionAward(
            id=done.entry_id,
            attributes=CustomActionAwardAttributes(
                earning_rule_id=done.earning_rule_id,
                action=cast(Literal["custom"], custom_actions.ACTION),
                action_key=done.action_key,
                result="pending" if done.status is EarningStatus.PENDING else "awarded",
                shopify_customer_id=str(done.shopify_customer_id),
                points=done.points,
                base_points=done.base_points,
                points_multiplier=multiplier(done.points_multiplier),
                status=str(done.status),
                points_balance=done.points_balance,
                idempotency_key=done.idempotency_key,
                replayed=False,
                metadata=done.metadata,
                points_given_at=isoformat_z(done.points_given_at),
                points_due_at=isoformat_z(done.points_due_at),
                points_expiry_at=isoformat_z(done.points_expiry_at),
                created_at=stamp(done.created_at),
                updated_at=stamp(done.created_at),
            ),
        )
    )
    return document.model_dump(mode="json")


async def award_custom_action(request: Request) -> Response:
    body = parse_body(requests.CustomActionRequest, await read_json_object(request))
    key = requests.idempotency_key(request.headers.get("idempotency-key"), body.idempotency_key)
    api_key = principal(request)
    async with custom_actions.award_custom_action(
        shop=api_key.shop,
        request=custom_actions.ActionRequest(
            action_key=body.action_key,
            shopify_customer_id=body.customer_id,
            customer_email=None if body.customer_id is not None else body.customer_email,
            metadata=body.metadata,
            idempotency_key=key,
        ),
        api_key_id=api_key.key_public_id,
    ) as outcome:
        # Rendered inside the award's transaction, so the stored idempotent response is the
        # document answered now (a replay returns it as it was).
        if outcome.award is not None:
            outcome.respond(custom_action_award(outcome.award))
    notify(request, outcome.jobs)
    if outcome.replay is not None:
        response = document_response(outcome.replay["data"], status=200)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    assert outcome.document is not None
    return document_response(outcome.document["data"], status=201)


_DOCUMENT = CustomActionAwardDocument
OPERATIONS = (
    Operation(
        method="POST",
        path="/actions",
        name="api.actions.award",
        endpoint=award_custom_action,
        operation_id="awardCustomAction",
        tag="Earning rules",
        summary="Award a custom action",
        replies=(
            Reply(201, "Awarded (`result`: awarded or pending)", _DOCUMENT),
            Reply(200, "A replay of an earlier response", _DOCUMENT, replayed=True),
        ),
        errors=(*WRITE_ERRORS, 404, 409, 422),
        description=(
            "For a `custom` rule the merchant set up, by its `action_key`. Once per "
            "customer (409 `already_awarded`) or repeatable, optionally at most "
            "`limit_count` times per rolling `limit_period_days` (409 `limit_reached`, "
            "with `meta.next_available_at`); points that would take a balance past "
            "2^31-1 are 422 `balance_limit`. Send an `Idempotency-Key` to retry "
            "safely: a repeat returns the same response with `replayed: true`; "
            "concurrent requests with one key award once (the others wait for the "
            "first and get its response)."
        ),
        request=(requests.CustomActionRequest,),
        params=(requests.IDEMPOTENCY_KEY_HEADER,),
    ),
)
