"""Reading request bodies safely: size cap, content type, strict JSON, an object, storable text.

The one JSON reader of every route that takes a body (public API, admin API): NUL and lone
surrogates, `NaN`/`Infinity`, overlong numbers and deep nesting are refused here, with a 400,
so no handler or service ever sees them (`loyalty.strict_json` says why each is refused).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from loyalty import strict_json
from loyalty.customers.identifiers import ascii_number
from web.errors import RequestError

MAX_BODY_BYTES = 64 * 1024

# curl's `-d` labels a body form-encoded unless told otherwise. We accept JSON under that label
# too, so `curl -d '{"customer_identifier": "…"}'` works as the docs show.
_JSON_TYPES = ("application/json", "application/x-www-form-urlencoded")


def _is_json_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in _JSON_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json_object(request: Request, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object. 415 for a non-JSON content type (a missing one is read as
    JSON), 413 past `max_bytes`, 400 `invalid_json` for invalid JSON (or JSON this system
    refuses), 400 `invalid_body` for anything but an object, 400 `invalid_field` (with a pointer)
    for a string or key holding a NUL or a lone surrogate."""
    content_type = request.headers.get("content-type")
    if content_type is not None and not _is_json_type(content_type):
        raise RequestError(
            415,
            "unsupported_media_type",
            "Unsupported Media Type",
            f"Send the body as application/json, not {content_type.split(';')[0].strip()}",
        )
    declared = request.headers.get("content-length")
    if exceeds(declared, max_bytes):
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return json_object(b"".join(chunks))


def json_object(raw: bytes) -> dict[str, Any]:
    """A body already read (and verified, where it is signed) as a JSON object: the 400s of
    `read_json_object`."""
    try:
        value = strict_json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        detail = (
            "The request body is empty"
            if not raw.strip()
            else f"The request body is not valid JSON ({exc})"
        )
        raise RequestError(400, "invalid_json", "Invalid JSON", detail) from None
    except strict_json.JsonRefused as exc:
        raise RequestError(
            400, "invalid_json", "Invalid JSON", f"The request body is refused: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise RequestError(
            400, "invalid_body", "Invalid request body", "The request body must be a JSON object"
        )
    pointer = strict_json.find_unstorable(value)
    if pointer is not None:
        # Echoed scrubbed: the offending key may itself be part of the pointer.
        where = strict_json.scrub(pointer)
        raise RequestError(
            400,
            "invalid_field",
            "Invalid field",
            f"{where.lstrip('/') or 'The body'} contains a NUL character (\\u0000) or a lone "
            "surrogate (\\ud800-\\udfff), which are not accepted",
            pointer=where,
        )
    return value


def _too_large(max_bytes: int) -> RequestError:
    return RequestError(
        413,
        "payload_too_large",
        "Payload Too Large",
        f"The request body must be at most {max_bytes // 1024} KB",
    )


def exceeds(content_length: str | None, max_bytes: int) -> bool:
    """True when a declared Content-Length is past `max_bytes` (a missing or malformed one is
    not: the body is counted as it streams in)."""
    declared = ascii_number(content_length or "")
    return declared is not None and declared > max_bytes
