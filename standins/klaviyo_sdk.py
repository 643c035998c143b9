"""Klaviyo judged by its official SDK (PyPI `klaviyo-api` 25.0.0, revision 2026-10-15).

A request body must validate strictly against the SDK's pydantic model of the operation and
carry no field the model does not declare: the generated models are lenient and drop unknown
fields without a word, which is how a misspelt `unique_id` would go unnoticed. The call is then
replayed through the SDK's own request builder (never sent): method, path, query (each
parameter must exist on the SDK's method and pass its checks) and the `revision`, `accept` and
`content-type` headers must equal what the SDK sends. A mock's answer is checked against the
response model the SDK method declares for its status.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import openapi_client
from klaviyo_api import KlaviyoAPI
from openapi_client.api.events_api import EventsApi
from openapi_client.api.profiles_api import ProfilesApi
from openapi_client.models.event_create_query_v2 import EventCreateQueryV2
from openapi_client.models.profile_upsert_query import ProfileUpsertQuery
from pydantic import BaseModel, ValidationError

from standins.partner_calls import Call, Problem, Refusal, pointer, query_value

KLAVIYO_REVISION: str = KlaviyoAPI._REVISION
KLAVIYO_BASE = "https://a.klaviyo.com"

_KLAVIYO_OPERATIONS: dict[tuple[str, str], tuple[type, str, type[BaseModel] | None]] = {
    # https://developers.klaviyo.com/en/reference/create_or_update_profile
    ("POST", "/api/profile-import"): (
        ProfilesApi,
        "create_or_update_profile",
        ProfileUpsertQuery,
    ),
    # https://developers.klaviyo.com/en/reference/create_event
    ("POST", "/api/events"): (EventsApi, "create_event", EventCreateQueryV2),
    # https://developers.klaviyo.com/en/reference/get_profiles
    ("GET", "/api/profiles"): (ProfilesApi, "get_profiles", None),
}
_KLAVIYO_ERRORS = {
    400: ("invalid", "Invalid input."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    404: ("not_found", "Not found."),
}


class _Sent(Exception):
    """Not an error: how the replayed SDK call hands back the request it built."""

    def __init__(self, method: str, url: str, headers: Mapping[str, str]) -> None:
        super().__init__(method, url)
        self.method, self.url = method, url
        self.headers = {name.lower(): str(value) for name, value in headers.items()}


@cache
def _klaviyo_sdk() -> KlaviyoAPI:
    """The SDK as its users build it, with the network call replaced by a capture."""
    sdk = KlaviyoAPI(api_key="stand-in")

    def capture(
        method: str, url: str, header_params: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        raise _Sent(method, url, header_params or {})

    sdk.api_client.call_api = capture
    return sdk


def judge(call: Call) -> Refusal | None:
    operation = _KLAVIYO_OPERATIONS.get((call.method, call.path))
    if operation is None:
        where = f"{call.method} {call.path}"
        return _klaviyo_refusal(404, [(where, "not a Klaviyo operation known to the stand-ins")])
    if not call.headers.get("authorization", "").startswith(("Klaviyo-API-Key ", "Bearer ")):
        return _klaviyo_refusal(401, [("header authorization", "Klaviyo-API-Key or Bearer")])
    api, method_name, model = operation
    args: list[BaseModel] = []
    if model is not None:
        parsed, unknown = strict_model(model, call.body)
        if parsed is None or unknown:
            return _klaviyo_refusal(400, unknown)
        args.append(parsed)
    wire = {_python_name(name): name for name, _ in call.query}
    kwargs = {_python_name(name): query_value(value) for name, value in call.query}
    problems: list[Problem] = []
    try:
        sent = _replay(api, method_name, args, kwargs)
    except ValidationError as exc:
        # A parameter the SDK's method does not have, or a value its checks refuse.
        for error in exc.errors():
            name = str(error["loc"][-1])
            problems.append((f"query {wire.get(name, name)}", error["msg"]))
        sent = _replay(api, method_name, args, {})
    problems += _compare_with_sdk(call, sent, query=not problems)
    return _klaviyo_refusal(400, problems) if problems else None


def _replay(api: type, method_name: str, args: list[BaseModel], kwargs: dict[str, Any]) -> _Sent:
    """The request the SDK builds for this call (never sent)."""
    try:
        getattr(api(_klaviyo_sdk().api_client), method_name)(*args, **kwargs)
    except _Sent as sent:
        return sent
    raise AssertionError("the SDK did not build a request")  # pragma: no cover


def strict_model(model: type[BaseModel], body: bytes) -> tuple[BaseModel | None, list[Problem]]:
    """The body as the SDK's model, strictly; plus every field the model does not declare
    (pydantic's default `extra="ignore"` drops them silently, so compare what was sent with
    what the model kept)."""
    try:
        sent = json.loads(body or b"null")
        parsed = model.model_validate_json(body or b"null", strict=True)
    except ValueError as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else []
        if not errors:
            return None, [("", f"body is not JSON: {exc}")]
        return None, [(pointer(error["loc"]), error["msg"]) for error in errors]
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    unknown = [
        (pointer, f"'{pointer.rsplit('/', 1)[-1]}' is not a field of {model.__name__}")
        for pointer in _unknown_keys(sent, kept, "")
    ]
    return parsed, unknown


def _unknown_keys(sent: Any, kept: Any, at: str) -> Iterator[str]:
    if isinstance(sent, dict) and isinstance(kept, dict):
        for key, value in sent.items():
            if key not in kept:
                yield f"{at}/{key}"
            else:
                yield from _unknown_keys(value, kept[key], f"{at}/{key}")
    elif isinstance(sent, list) and isinstance(kept, list):
        for n, (one, other) in enumerate(zip(sent, kept, strict=False)):
            yield from _unknown_keys(one, other, f"{at}/{n}")


def _compare_with_sdk(call: Call, sent: _Sent, *, query: bool) -> list[Problem]:
    problems: list[Problem] = []
    url = urlsplit(sent.url)
    if (sent.method, url.path) != (call.method, call.path):
        problems.append(("", f"the SDK sends {sent.method} {url.path}"))
    if query and sorted(parse_qsl(url.query)) != sorted(call.query):
        problems.append(("query", f"the SDK sends {url.query!r} for these arguments"))
    for name in ("revision", "accept", "content-type"):
        expected = sent.headers.get(name)
        got = call.headers.get(name, "").split(";")[0].strip()
        if expected is not None and got != expected:
            problems.append((f"header {name}", f"{got!r}; the SDK sends {expected!r}"))
    return problems


def mock_problems(call: Call, status: int, body: bytes) -> list[str]:
    operation = _KLAVIYO_OPERATIONS.get((call.method, call.path))
    if operation is None:
        return []
    models = _klaviyo_responses(operation[0], operation[1])
    key = str(status) if str(status) in models else f"{status // 100}XX"
    if key not in models or (status >= 500 and not body):  # a gateway's 5xx has no document
        return []
    name = models[key]
    if name is None:
        return ["Klaviyo answers this status with no body"] if body else []
    if not body:
        return [f"Klaviyo answers this status with a {name}"]
    try:
        getattr(openapi_client.models, name).model_validate_json(body)
    except ValidationError as exc:
        return [f"{pointer(e['loc'])}: {e['msg']} ({name})" for e in exc.errors()]
    return []


@cache
def _klaviyo_responses(api: type, method_name: str) -> dict[str, str | None]:
    """The SDK method's own `_response_types_map` (status → model name; None: no body)."""
    source = inspect.getsource(getattr(api, method_name))
    found = re.findall(r"'(\d{3}|\dXX)': (?:\"(\w+)\"|None)", source)
    return {status: name or None for status, name in found}


def _python_name(wire: str) -> str:
    """`page[size]` → `page_size`, `fields[push-token]` → `fields_push_token`: the SDK's names."""
    return re.sub(r"[\[\-]", "_", wire).replace("]", "")


def _klaviyo_refusal(status: int, problems: list[Problem]) -> Refusal:
    """Klaviyo's JSON:API error document, with exactly the fields of the SDK's error model."""
    code, title = _KLAVIYO_ERRORS[status]
    errors = []
    for where, what in problems:
        if where.startswith(("query ", "header ")):
            source = {"parameter": where.split(" ", 1)[1]}
        else:
            source = {"pointer": where or "/"}
        errors.append(
            {
                "id": str(uuid.uuid4()),
                "code": code,
                "title": title,
                "detail": what,
                "source": source,
            }
        )
    return Refusal(status, {"errors": errors}, tuple(problems))
