"""Building blocks of the public API's response documents: the JSON:API envelopes
(`Document[R]` is `{"data": R}`, `ListDocument[R, M]` adds `meta`; each resource subclasses
them by name, `CustomerDocument`, so its schema has one), the field types every
resource uses (times, statuses), and `respond`, the one way a handler turns a document model into
a response. The resources themselves sit beside the routes that return them (customers, points,
catalogue); the OpenAPI schemas are generated from the same models (web.public_api.openapi).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.responses import Response

from loyalty.clock import isoformat_z
from loyalty.models import EarningStatus
from loyalty.points import as_multiplier

_TIME = {"type": "string", "format": "date-time", "examples": ["2024-06-01T12:00:00.000Z"]}
Time = Annotated[str, WithJsonSchema(_TIME)]
NullableTime = Annotated[str | None, WithJsonSchema({"anyOf": [_TIME, {"type": "null"}]})]
Status = Annotated[str, WithJsonSchema({"type": "string", "enum": [str(s) for s in EarningStatus]})]
Metadata = dict[str, Any] | None

R = TypeVar("R", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


class Model(BaseModel):
    """A response model: every field is always present, so the schema requires every one (a
    field with a default, such as a resource's `type`, too)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Document(Model, Generic[R]):
    data: R


class PageMeta(Model):
    total: int
    page: int
    per_page: int
    total_pages: int


class CountMeta(Model):
    total: int


class ListDocument(Model, Generic[R, M]):
    data: list[R]
    meta: M


def respond(document: BaseModel, *, status: int = 200) -> Response:
    return Response(document.model_dump_json(), status_code=status, media_type="application/json")


def resource_id(description: str) -> Any:
    return Field(description=description)


def multiplier(value: Decimal | str | float | None) -> float:
    return float(as_multiplier(value))


def stamp(value: datetime) -> str:
    """A time that is always set (`created_at`), as `2024-06-01T12:00:00.000Z`."""
    return isoformat_z(value) or ""


def calendar(value: date | None) -> str | None:
    """Dates of birth and anniversaries in the seed's full-timestamp form."""
    if value is None:
        return None
    return f"{value.isoformat()}T00:00:00.000Z"
