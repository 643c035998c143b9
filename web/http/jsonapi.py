"""JSON:API-style documents: `{"data": {"type", "id", "attributes"}}`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response


def resource(type_: str, id_: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": type_, "id": id_, "attributes": dict(attributes)}


def document_response(
    data: Any, *, status: int = 200, meta: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {"data": data}
    if meta is not None:
        body["meta"] = meta
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
    )
