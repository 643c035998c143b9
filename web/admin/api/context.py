"""What every `/app/api` handler reads off a verified request: the shop and staff user the ID
token named (set by web/auth/id_token.py before the handler runs), its JSON body as a model, and
the queue to hand committed intents to."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from loyalty.models import Shop
from web.http.body import read_json_object
from web.http.validation import parse_body
from web.state import services

UNPROCESSABLE = 422
B = TypeVar("B", bound=BaseModel)


def shop(request: Request) -> Shop:
    return request.state.shop  # type: ignore[no-any-return]


def staff_user_id(request: Request) -> str | None:
    return request.state.staff_user_id  # type: ignore[no-any-return]


def notify(request: Request, jobs: list[str]) -> None:
    """Hand committed intents to the queue (after the service's transaction, never inside)."""
    if jobs:
        services(request).dispatcher.notify(shop(request).id, jobs)


async def body_of(request: Request, model: type[B]) -> B:
    """The body as `model`; a field that does not fit is a 422 naming it, nothing written."""
    return parse_body(model, await read_json_object(request), status=UNPROCESSABLE)
