"""`/api/v1`: the public API for merchant integrations (API-key auth is on the mount)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.api_keys import ApiKeyPrincipal
from loyalty.customers.identifiers import MAX_IDENTIFIER_LENGTH
from loyalty.earning.award import Actor, award_rule
from loyalty.models import ActorType
from web.body import read_json_object
from web.jsonapi import document_response
from web.parsing import parse_body
from web.serializers import earning_history_entry
from web.state import services


def principal(request: Request) -> ApiKeyPrincipal:
    return request.state.principal  # type: ignore[no-any-return]


class AwardBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_identifier: Annotated[
        str,
        StringConstraints(
            strict=True, strip_whitespace=True, min_length=1, max_length=MAX_IDENTIFIER_LENGTH
        ),
    ]


async def award_earning_rule(request: Request) -> Response:
    """POST /api/v1/earning-rules/{rule_id}/award"""
    body: AwardBody = parse_body(AwardBody, await read_json_object(request))
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
    return document_response(earning_history_entry(entry), status=201)


routes = [
    Route(
        "/earning-rules/{rule_id}/award",
        award_earning_rule,
        methods=["POST"],
        name="api.earning_rules.award",
    ),
]
