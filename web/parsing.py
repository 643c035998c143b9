"""Request bodies, query strings and path parameters validated into values, with every problem
answered as a JSON:API error that points at the offending field (never a 500).

`screen_routes(routes)` is the one place query and path parameters are checked as text: a NUL or a
lone surrogate in any of them is a 400 before the handler runs (JSON bodies get the same rule in
`web.body`), and a public id (`rule_…`, `tier_…`, `key_…`) longer than any can be is that
resource's 404 (Tortoise refuses to query a value past the column's length: a 500). It wraps the
routes of a mount whose credential its middleware has verified.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from loyalty import strict_json
from loyalty.customers.identifiers import ascii_number
from loyalty.errors import (
    ApiKeyNotFoundError,
    EarningRuleNotFoundError,
    NotFoundError,
    VipTierNotFoundError,
)
from web.errors import RequestError

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], data: dict[str, Any], *, status: int = 400) -> M:
    """Validate a JSON object against `model`. The first problem answers `status` (the public
    API's contract says 400; the admin API uses 422) with code `missing_field` or
    `invalid_field` and a pointer to the field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = ".".join(loc)
        pointer = "/" + "/".join(loc) if loc else None
        if error["type"] == "missing":
            raise RequestError(
                status, "missing_field", "Missing field", f"{field} is required", pointer=pointer
            ) from None
        raise RequestError(
            status, "invalid_field", "Invalid field", _field_problem(field, error), pointer=pointer
        ) from None


def explicit_fields(body: BaseModel, *, nullable: Collection[str] = ()) -> dict[str, Any]:
    """The fields a partial update sent, by name. `null` is only accepted for `nullable` ones:
    for any other field it is a 422 (absent means "leave as is", null would mean "erase")."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise RequestError(
                422,
                "invalid_field",
                "Invalid field",
                f"{name} must not be null",
                pointer=f"/{name}",
            )
    return changes


_SIMPLE_PROBLEMS = {
    "string_type": "must be a string",
    "string_too_short": "must not be blank",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_pattern_mismatch": "has an invalid format",
    "url_parsing": "must be a URL",
    "url_scheme": "must be an http or https URL",
}


def _field_problem(field: str, error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _SIMPLE_PROBLEMS:
        return f"{field} {_SIMPLE_PROBLEMS[kind]}"
    if kind == "string_too_long":
        return f"{field} must be at most {ctx['max_length']} characters"
    if kind == "greater_than_equal":
        return f"{field} must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"{field} must be at most {ctx['le']}"
    if kind in {"enum", "literal_error"}:
        return f"{field} must be one of {ctx.get('expected', 'the allowed values')}"
    if kind == "value_error":  # a custom validator's message
        return f"{field} {ctx['error']}" if "error" in ctx else f"{field}: {error['msg']}"
    return f"{field}: {error['msg']}"


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def meta(self, total: int) -> dict[str, int]:
        return {
            "total": total,
            "page": self.number,
            "per_page": self.size,
            "total_pages": -(-total // self.size),
        }


def parse_page(query: Mapping[str, str], *, default_size: int = 20, max_size: int = 100) -> Page:
    """`page[number]` (from 1) and `page[size]` (default 20; above the maximum is clamped).
    Anything but a positive integer is a 400 naming the parameter."""
    return Page(
        number=_positive_int(query, "page[number]", 1),
        size=min(_positive_int(query, "page[size]", default_size), max_size),
    )


def _positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    number = ascii_number(raw, maximum=999_999_999)
    if not number:
        raise RequestError(
            400,
            "invalid_parameter",
            "Invalid query parameter",
            f"{name} must be a positive integer",
            parameter=name,
        )
    return number


# Query and path parameters ---------------------------------------------------------------------


# Path parameters that name a record by its public id, and the error for one that names none.
MAX_PUBLIC_ID_LENGTH = 32  # the columns' width; ids are `<prefix>_` and 20 hex digits
_PUBLIC_ID_PARAMETERS: dict[str, type[NotFoundError]] = {
    "rule_id": EarningRuleNotFoundError,
    "tier_id": VipTierNotFoundError,
    "key_id": ApiKeyNotFoundError,
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
        value = path_params.get(name)
        if value is not None and len(value) > MAX_PUBLIC_ID_LENGTH:
            raise error(f"No {name.removesuffix('_id')} {value[:40]!r}… exists for this shop")


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
