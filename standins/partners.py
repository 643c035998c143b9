"""Klaviyo, Omnisend and Postscript stand-ins: every request judged by the vendor's published
contract, and a refused one answered in the vendor's own error shape. `judge` (with `Call`)
serves any stand-in, e.g. bench/sync's HTTP server; `PartnerRouter` is a respx router whose
routes answer that way in tests, and whose own answers are judged too (`mock_problems`: the
response the contract declares for the status; extra fields allowed, missing or mistyped not).

- Klaviyo: its official SDK (PyPI `klaviyo-api` 25.0.0, revision 2026-10-15). The body must
  validate strictly against the SDK's pydantic model of the operation and carry no field the
  model does not declare (the generated models are lenient: they drop unknown fields without a
  word, which is how a misspelt `unique_id` would go unnoticed). The call is then replayed
  through the SDK's own request builder: method, path, query (each parameter must exist on the
  SDK's method and pass its checks) and the `revision`, `accept` and `content-type` headers
  must equal what the SDK sends.
- Omnisend, Postscript: their OpenAPI definitions, vendored in tests/contract/vendor/ (source,
  commit and licence in each file's `x-vendored`). Objects are closed: a field the definition
  does not declare is refused, for the same reason. Rules the definitions state only in words
  are written as schema in `_PROSE`, next to the words they come from. Formats (`format: date`)
  are not asserted: Postscript gives `format: date` to `occurred_at`, whose description asks
  for `%Y-%m-%d %H:%M:%S.%f`; the description wins.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema_rs
import openapi_client
import respx
from klaviyo_api import KlaviyoAPI
from openapi_client.api.events_api import EventsApi
from openapi_client.api.profiles_api import ProfilesApi
from openapi_client.models.event_create_query_v2 import EventCreateQueryV2
from openapi_client.models.profile_upsert_query import ProfileUpsertQuery
from pydantic import BaseModel, ValidationError
from respx.models import ResolvedRoute

VENDOR = Path(__file__).resolve().parent.parent / "tests" / "contract" / "vendor"
KLAVIYO, OMNISEND, POSTSCRIPT = "klaviyo", "omnisend", "postscript"
KLAVIYO_REVISION: str = KlaviyoAPI._REVISION
KLAVIYO_BASE = "https://a.klaviyo.com"

Problem = tuple[str, str]  # (where: a JSON pointer, "query x" or "header x"; what is wrong)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the vendor receives it; `path` is relative to the vendor's base URL."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    @classmethod
    def of(cls, request: httpx.Request, base_path: str = "") -> Call:
        return cls(
            method=request.method,
            path=request.url.path.removeprefix(base_path.rstrip("/")),
            query=tuple(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.content,
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the vendor answers instead: its status, its error document, and our reasons."""

    status: int
    body: dict[str, Any]
    problems: tuple[Problem, ...]

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, json=self.body)

    def __str__(self) -> str:
        return "; ".join(f"{where}: {what}" for where, what in self.problems)


def mock_problems(platform: str, call: Call, status: int, body: bytes) -> list[str]:
    """What is wrong with a stand-in's answer (a test's mock), judged by the response the
    vendor's contract declares for that status; [] when it declares none. Extra fields are
    allowed (vendors add them); a missing required field or a wrong type is not."""
    if platform == KLAVIYO:
        return _klaviyo_mock_problems(call, status, body)
    return _contract(platform).mock_problems(call, status, body)


def judge(platform: str, call: Call) -> Refusal | None:
    """None when the vendor's contract accepts the call, else the vendor's refusal."""
    if platform == KLAVIYO:
        return _judge_klaviyo(call)
    return _contract(platform).judge(call)


def base_urls() -> dict[str, str]:
    """Each platform's production base URL (the contracts' `servers`)."""
    return {
        KLAVIYO: KLAVIYO_BASE,
        OMNISEND: _contract(OMNISEND).base_url,
        POSTSCRIPT: _contract(POSTSCRIPT).base_url,
    }


def judge_request(request: httpx.Request) -> Refusal | None:
    """Judge an outgoing httpx request by the platform its URL names; other hosts pass."""
    found = _platform_call(request)
    return judge(*found) if found else None


def _platform_call(request: httpx.Request) -> tuple[str, Call] | None:
    url = str(request.url)
    for platform, base in base_urls().items():
        if url.startswith(base.rstrip("/") + "/"):
            return platform, Call.of(request, urlsplit(base).path)
    return None


class PartnerRouter(respx.MockRouter):
    """respx routes that answer like the vendors: a request Klaviyo, Omnisend or Postscript
    would refuse gets the vendor's error instead of the route's answer (the call is still
    recorded on the route, and in `refusals`); a route whose own answer breaks the response
    the vendor's contract declares fails the test. Other hosts are not judged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusals: list[Refusal] = []

    @contextmanager
    def resolver(self, request: httpx.Request) -> Iterator[ResolvedRoute]:
        with super().resolver(request) as resolved:
            yield resolved
            found = _platform_call(request)
            if found and resolved.route and isinstance(resolved.response, httpx.Response):
                platform, call = found
                refusal = judge(platform, call)
                if refusal is not None:
                    self.refusals.append(refusal)
                    resolved.response = refusal.response()
                    return
                answer = resolved.response
                answer.read()
                if problems := mock_problems(platform, call, answer.status_code, answer.content):
                    raise AssertionError(
                        f"{resolved.route!r} answers {call.method} {call.path} with what "
                        f"{platform} never answers ({answer.status_code}): {'; '.join(problems)}"
                    )


def partner_mock(*, assert_all_called: bool = True) -> PartnerRouter:
    """`with partner_mock() as mock:` in place of `with respx.mock(...) as mock:`."""
    return PartnerRouter(assert_all_called=assert_all_called)


# -- Klaviyo: the official SDK ---------------------------------------------------------------

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


def _judge_klaviyo(call: Call) -> Refusal | None:
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
    kwargs = {_python_name(name): _query_value(value) for name, value in call.query}
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
        return None, [(_pointer(error["loc"]), error["msg"]) for error in errors]
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


def _klaviyo_mock_problems(call: Call, status: int, body: bytes) -> list[str]:
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
        return [f"{_pointer(e['loc'])}: {e['msg']} ({name})" for e in exc.errors()]
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


def _query_value(value: str) -> Any:
    return int(value) if re.fullmatch(r"-?\d+", value) else value


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join(f"/{part}" for part in loc)


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


# -- Omnisend and Postscript: their OpenAPI definitions --------------------------------------

UUID_V4_TO_V7 = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[4-7][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
RFC3339_OR_SPACED = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"  # eventTime's two forms
)
EMAIL = r"^[^@\s]+@[^@\s]+$"

# (platform, METHOD, path template) → {JSON pointer in the body schema: (schema, the words)}
_PROSE: dict[tuple[str, str, str], dict[str, tuple[dict[str, Any], str]]] = {
    (OMNISEND, "POST", "/events"): {
        "/properties/eventID": ({"pattern": UUID_V4_TO_V7}, "UUID of the event (v4, v5, v6, v7)"),
        "/properties/eventTime": (
            {"pattern": RFC3339_OR_SPACED},
            'Accepts RFC 3339 and the space-separated form "YYYY-MM-DD HH:MM:SS±HH:MM"',
        ),
    },
    (OMNISEND, "POST", "/contacts"): {
        "/properties/identifiers/items": (
            {
                "if": {"properties": {"type": {"const": "email"}}},
                "then": {"properties": {"id": {"pattern": EMAIL}}},
            },
            "Identifier value. For email: a valid email address.",
        ),
    },
    (POSTSCRIPT, "POST", "/api/v2/events"): {
        "/properties/type": (
            {"pattern": r"^[A-Za-z0-9_]+$"},
            "We accept ... (a-z), (A-Z), digits (0-9), and underscores (_)",
        ),
        "/properties/occurred_at": (
            {"pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6}$"},
            "The following UTC time format is supported: %Y-%m-%d %H:%M:%S.%f",
        ),
        "/properties/properties": (
            {"additionalProperties": {"type": ["string", "boolean", "integer", "number"]}},
            "We currently accept strings, booleans, integers, floats, and datetime strings.",
        ),
    },
    (POSTSCRIPT, "PATCH", "/api/v2/subscribers/{id}"): {
        "/properties/properties": (
            {
                "type": ["object", "null"],
                "maxProperties": 50,
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "integer"},
                        {"type": "array", "items": {"type": "string"}},
                    ]
                },
            },
            "Values can be: strings, integers, string arrays, or ISO 8601 date(time). "
            "Subscribers can have up to 50 custom properties. If ... `null`, it will be ignored.",
        ),
    },
}
_FILES = {
    OMNISEND: ("omnisend-contacts-2026-03-15.json", "omnisend-events-2026-03-15.json"),
    POSTSCRIPT: ("postscript-partner-api-v2.json",),
}


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    headers: dict[str, dict[str, Any]]  # lower-case name → parameter
    query: dict[str, dict[str, Any]]
    body: jsonschema_rs.Validator | None
    body_required: bool
    responses: dict[str, jsonschema_rs.Validator | None]  # status → JSON body schema, if any


@dataclass(frozen=True)
class _Contract:
    platform: str
    base_url: str
    auth_prefixes: tuple[str, ...]
    operations: tuple[_Operation, ...]

    def judge(self, call: Call) -> Refusal | None:
        operation = self._find(call)
        if operation is None:
            where = f"{call.method} {call.path}"
            return self._refusal(404, [(where, "no such operation in the vendor's definition")])
        if not call.headers.get("authorization", "").startswith(self.auth_prefixes):
            return self._refusal(401, [("header authorization", " or ".join(self.auth_prefixes))])
        problems = [*_header_problems(operation, call), *_query_problems(operation, call)]
        problems += _body_problems(operation, call)
        return self._refusal(400, problems) if problems else None

    def mock_problems(self, call: Call, status: int, body: bytes) -> list[str]:
        operation = self._find(call)
        schema = operation.responses.get(str(status)) if operation else None
        if schema is None:
            return []
        try:
            document = json.loads(body)
        except ValueError:
            return [f"the definition declares a JSON body for {status}"]
        return [
            f"{_pointer(tuple(e.instance_path))}: {e.message}" for e in schema.iter_errors(document)
        ]

    def _find(self, call: Call) -> _Operation | None:
        return next(
            (o for o in self.operations if o.method == call.method and o.pattern.match(call.path)),
            None,
        )

    def _refusal(self, status: int, problems: list[Problem]) -> Refusal:
        if self.platform == OMNISEND:
            return Refusal(status, _omnisend_problem(status, problems), tuple(problems))
        errors = [
            {"loc": _loc(where), "msg": what, "type": "value_error"} for where, what in problems
        ]
        return Refusal(status, {"errors": errors}, tuple(problems))


def _omnisend_problem(status: int, problems: list[Problem]) -> dict[str, Any]:
    """Problem / ValidationProblem (RFC 9457 style) as the definitions describe them."""
    titles = {
        400: "Request contains invalid or missing fields",
        401: "Authentication is missing or invalid",
        404: "Not found",
    }
    body: dict[str, Any] = {
        "type": "https://problems.omnisend.com/problem",
        "title": titles[status],
        "status": status,
        "detail": "; ".join(f"{where}: {what}" for where, what in problems),
        "instance": f"urn:omnisend:request:{uuid.uuid4()}",
    }
    if status == 400:
        body["errors"] = [
            {"code": "invalid", "field": ".".join(map(str, _loc(where))), "message": what}
            for where, what in problems
        ]
    return body


def _loc(where: str) -> list[str | int]:
    if where.startswith(("query ", "header ")):
        return [*where.split(" ", 1)]
    return [int(p) if p.isdigit() else p for p in where.split("/") if p]


def _header_problems(operation: _Operation, call: Call) -> Iterator[Problem]:
    for name, parameter in operation.headers.items():
        value = call.headers.get(name)
        if value is None:
            if parameter.get("required"):
                yield f"header {parameter['name']}", "required"
            continue
        # A required header with a default is the definition's own version: the document
        # describes that version and no other.
        version = parameter.get("schema", {}).get("default")
        if parameter.get("required") and version is not None and value != version:
            yield f"header {parameter['name']}", f"{value!r}; this definition is {version!r}"


def _query_problems(operation: _Operation, call: Call) -> Iterator[Problem]:
    for name, value in call.query:
        parameter = operation.query.get(name)
        if parameter is None:
            yield f"query {name}", "not a parameter of this operation"
            continue
        schema = parameter.get("schema", {})
        typed: Any = value
        if schema.get("type") == "integer":
            typed = _query_value(value)
        elif schema.get("type") == "array":
            typed = value.split(",")
        for error in jsonschema_rs.validator_for(schema).iter_errors(typed):
            yield f"query {name}", error.message
    for name, parameter in operation.query.items():
        if parameter.get("required") and name not in dict(call.query):
            yield f"query {name}", "required"


def _body_problems(operation: _Operation, call: Call) -> Iterator[Problem]:
    if operation.body is None:
        if call.body:
            yield "", "this operation takes no body"
        return
    if not call.body:
        if operation.body_required:
            yield "", "a body is required"
        return
    if call.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        yield "header content-type", "the definition takes application/json"
    try:
        document = json.loads(call.body)
    except ValueError as exc:
        yield "", f"body is not JSON: {exc}"
        return
    for error in operation.body.iter_errors(document):
        yield _pointer(tuple(error.instance_path)), error.message


@cache
def _contract(platform: str) -> _Contract:
    operations: list[_Operation] = []
    prefixes: list[str] = []
    base_url = ""
    for name in _FILES[platform]:
        document = json.loads((VENDOR / name).read_text())
        base_url = document["servers"][0]["url"]
        prefixes += _auth_prefixes(document)
        for template, item in document["paths"].items():
            for method, operation in item.items():
                operations.append(
                    _operation(platform, document, method.upper(), template, operation)
                )
    return _Contract(platform, base_url, tuple(dict.fromkeys(prefixes)), tuple(operations))


def _auth_prefixes(document: dict[str, Any]) -> Iterator[str]:
    """The Authorization schemes the definition names: `x-default: "Omnisend-API-Key …"`,
    ReadMe's `x-bearer-format: bearer`, and OAuth2 (a Bearer token)."""
    for scheme in document["components"]["securitySchemes"].values():
        if scheme["type"] == "oauth2" or scheme.get("x-bearer-format") == "bearer":
            yield "Bearer "
        elif "x-default" in scheme:
            yield scheme["x-default"].split(" ", 1)[0] + " "


def _operation(
    platform: str, document: dict[str, Any], method: str, template: str, spec: dict[str, Any]
) -> _Operation:
    parameters = [_resolved(document, p) for p in spec.get("parameters", [])]
    body = _resolved(document, spec["requestBody"]) if "requestBody" in spec else None
    validator = None
    if body is not None:
        schema = _closed(_resolved(document, body["content"]["application/json"]["schema"]))
        for pointer, (rule, _words) in _PROSE.get((platform, method, template), {}).items():
            _at(schema, pointer).update(copy.deepcopy(rule))
        validator = jsonschema_rs.Draft202012Validator(schema)
    pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
    return _Operation(
        method=method,
        template=template,
        pattern=pattern,
        headers={p["name"].lower(): p for p in parameters if p["in"] == "header"},
        query={p["name"]: p for p in parameters if p["in"] == "query"},
        body=validator,
        body_required=bool(body and body.get("required")),
        responses={
            status: jsonschema_rs.Draft202012Validator(_resolved(document, schema))
            for status, answer in spec.get("responses", {}).items()
            if (schema := answer.get("content", {}).get("application/json", {}).get("schema"))
        },
    )


def _resolved(document: dict[str, Any], node: Any) -> Any:
    """`node` with every local `$ref` replaced by a copy of its target (none is recursive)."""
    if isinstance(node, list):
        return [_resolved(document, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _resolved(
            document, {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
        )
    return {key: _resolved(document, value) for key, value in node.items()}


def _closed(schema: Any) -> Any:
    """Objects that list their properties refuse others (an undeclared field is a mistake the
    vendor would ignore). ReadMe's conventions: `{type: string, format: json}` is a JSON value,
    and an object whose only property is `key` is a free-form map."""
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "string" and schema.get("format") == "json":
        return {k: v for k, v in schema.items() if k not in ("type", "format", "default")}
    closed = dict(schema)
    for keyword in ("items", "additionalProperties", "not", "if", "then", "else"):
        if isinstance(closed.get(keyword), dict):
            closed[keyword] = _closed(closed[keyword])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in closed:
            closed[keyword] = [_closed(member) for member in closed[keyword]]
    properties = closed.get("properties")
    if isinstance(properties, dict):
        if set(properties) == {"key"}:
            del closed["properties"]
            closed.setdefault("additionalProperties", True)
        else:
            closed["properties"] = {name: _closed(sub) for name, sub in properties.items()}
            closed.setdefault("additionalProperties", False)
    return closed


def _at(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    node = schema
    for part in pointer.strip("/").split("/"):
        node = node[part]
    return node
