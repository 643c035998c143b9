"""Request bodies validated into pydantic models, with every problem answered as a JSON:API
error that points at the offending field (never a 500, never pydantic's 422 layout).

`parse_body` is the one translation of a pydantic `ValidationError` into a `RequestError`; a
model-level rule (a validator that looks at two fields) names the field it blames with
`field_error`, so its error points at that field like any other.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from web.errors import RequestError


def field_error(field: str, kind: str, message: str) -> PydanticCustomError:
    """For a model validator: an error blaming `field`; `kind` "missing" answers `missing_field`
    with `message` as the detail, anything else `invalid_field`."""
    return PydanticCustomError(kind, message, {"field": field, "detail": message})


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], data: dict[str, Any], *, status: int = 400) -> M:
    """Validate a JSON object against `model`. The first problem answers `status` (the public
    API's contract says 400; the admin API uses 422) with code `missing_field` or
    `invalid_field` and a pointer to the field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        ctx = error.get("ctx") or {}
        loc = [str(part) for part in error["loc"]] or ([ctx["field"]] if "field" in ctx else [])
        field = ".".join(loc)
        pointer = "/" + "/".join(loc) if loc else None
        if "detail" in ctx:  # a model-level rule (see field_error)
            code, title = _CODES[error["type"] == "missing"]
            raise RequestError(status, code, title, ctx["detail"], pointer=pointer) from None
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


_CODES = {True: ("missing_field", "Missing field"), False: ("invalid_field", "Invalid field")}
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
