"""Query and path parameters validated into values, every problem a 400 `invalid_parameter`
whose error names the parameter (`source.parameter`), as JSON:API does.

`screen_routes(routes)` is the one place query and path parameters are checked as text: a NUL or a
lone surrogate in any of them is a 400 before the handler runs (JSON bodies get the same rule in
`web.http.body`), and a public id (`rule_…`, `tier_…`, `key_…`) longer than any can be is that
resource's 404 (Tortoise refuses to query a value past the column's length: a 500). It wraps the
routes of a mount whose credential its middleware has verified. The rest reads `sort`,
`filter[…]` and true/false parameters (paging is web.http.paging).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty import strict_json
from loyalty.errors import (
    ApiKeyNotFoundError,
    EarningRuleNotFoundError,
    NotFoundError,
    RedemptionNotFoundError,
    RewardNotFoundError,
    VipTierNotFoundError,
)
from loyalty.paging import Sort
from web.errors import RequestError


def invalid(parameter: str, detail: str) -> RequestError:
    return RequestError(
        400, "invalid_parameter", "Invalid query parameter", detail, parameter=parameter
    )


def sort_of(query: Mapping[str, str], fields: Collection[str], default: Sort) -> Sort:
    """`sort=<field>` ascending, `sort=-<field>` descending; one field."""
    raw = query.get("sort")
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    descending = text.startswith("-")
    name = text.removeprefix("-")
    if name not in fields:
        choices = ", ".join(sorted(fields))
        raise invalid("sort", f"sort must be one of {choices}, optionally prefixed with -")
    return Sort(name, descending)


def filters_of(query: QueryParams, names: Collection[str]) -> dict[str, str]:
    """The `filter[…]` parameters sent; an unknown one is a 400."""
    found: dict[str, str] = {}
    for key, value in query.multi_items():
        if not key.startswith("filter["):
            continue
        name = key.removeprefix("filter[").removesuffix("]")
        if key != f"filter[{name}]" or name not in names:
            allowed = ", ".join(f"filter[{n}]" for n in sorted(names)) or "none"
            raise invalid(key, f"Unknown filter {key}; this list takes {allowed}")
        found[name] = value
    return found


def choice(filters: Mapping[str, str], name: str, choices: Collection[str]) -> str | None:
    value = filters.get(name)
    if value is None:
        return None
    if value not in choices:
        raise invalid(f"filter[{name}]", f"filter[{name}] must be one of {', '.join(choices)}")
    return value


def boolean(query: Mapping[str, str], name: str, *, parameter: str | None = None) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    if value.lower() in {"true", "1"}:
        return True
    if value.lower() in {"false", "0"}:
        return False
    parameter = parameter or name
    raise invalid(parameter, f"{parameter} must be true or false")


def flag(filters: Mapping[str, str], name: str) -> bool | None:
    """A true/false filter (`filter[is_active]=true`)."""
    return boolean(filters, name, parameter=f"filter[{name}]")


# Path parameters that name a record by its public id, and the error for one that names none.
MAX_PUBLIC_ID_LENGTH = 32  # the columns' width; ids are `<prefix>_` and 20 hex digits
_PUBLIC_ID_PARAMETERS: dict[str, type[NotFoundError]] = {
    "rule_id": EarningRuleNotFoundError,
    "tier_id": VipTierNotFoundError,
    "key_id": ApiKeyNotFoundError,
    "reward_id": RewardNotFoundError,
    "redemption_id": RedemptionNotFoundError,
}


def screen_params(scope: Scope) -> None:
    """Raise a 400 `invalid_parameter` naming the first query or path parameter (name or value)
    that holds a NUL or a lone surrogate: such text can be neither stored nor compared
    (PostgreSQL refuses NUL; SQLite's LIKE stops at it, so `filter[email]=%00` matched everyone).
    A public id longer than any raises its resource's NotFoundError."""
    path_params = {k: v for k, v in scope.get("path_params", {}).items() if isinstance(v, str)}
    named = [
        *((key, value) for key, value in QueryParams(scope.get("query_string", b"")).multi_items()),
        *path_params.items(),
    ]
    for name, value in named:
        if strict_json.unstorable(name) or strict_json.unstorable(value):
            shown = strict_json.scrub(name)
            raise RequestError(
                400,
                "invalid_parameter",
                "Invalid parameter",
                f"{shown} contains a NUL character or a lone surrogate, which are not accepted",
                parameter=shown,
            )
    for name, error in _PUBLIC_ID_PARAMETERS.items():
        public_id = path_params.get(name)
        if public_id is not None and len(public_id) > MAX_PUBLIC_ID_LENGTH:
            raise error(f"No {name.removesuffix('_id')} {public_id[:40]!r}… exists for this shop")


class ScreenedParams:
    """ASGI wrapper of one route's app: `screen_params`, then the route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        screen_params(scope)
        await self.app(scope, receive, send)


def screen_routes(routes: Sequence[BaseRoute]) -> None:
    """Screen every `Route`'s parameters (see `screen_params`), in place. For the routes of a
    mount whose auth middleware runs first: nothing is read before the credential."""
    for route in routes:
        if isinstance(route, Route) and not isinstance(route.app, ScreenedParams):
            route.app = ScreenedParams(route.app)
