"""What a `/api/v1` handler reads from its request besides the body: the verified API key (set by
web.auth.api_key on the mount), the customer named in the path, and where committed jobs go."""

from __future__ import annotations

from starlette.requests import Request

from loyalty.shops.api_keys import ApiKeyPrincipal
from web.state import services


def principal(request: Request) -> ApiKeyPrincipal:
    return request.state.principal  # type: ignore[no-any-return]


def notify(request: Request, jobs: list[str]) -> None:
    """Hand committed intents to the queue (after the service's transaction, never inside)."""
    if jobs:
        services(request).dispatcher.notify(principal(request).shop.id, jobs)


def identifier(request: Request) -> str:
    return request.path_params["identifier"]  # type: ignore[no-any-return]
