"""Omnisend and Postscript judged by their OpenAPI definitions, vendored in
tests/contract/vendor/ (source, commit and licence in each file's `x-vendored`).

Objects are closed: a field the definition does not declare is refused (the platform would
ignore it silently, which is how a misspelt field goes unnoticed). Rules the definitions state
only in words are written as schema in `_PROSE`, next to the words they come from. Formats
(`format: date`) are not asserted: Postscript gives `format: date` to `occurred_at`, whose
description asks for `%Y-%m-%d %H:%M:%S.%f`; the description wins. ReadMe's conventions are
read as ReadMe means them (`{type: string, format: json}` is a JSON value; an object whose only
property is `key` is a free-form map). A mock's answer is checked against the response schema
the definition declares for its status, extra fields allowed.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from standins.partner_calls import (
    OMNISEND,
    POSTSCRIPT,
    Call,
    Problem,
    Refusal,
    pointer,
    query_value,
)

VENDOR = Path(__file__).resolve().parent.parent / "tests" / "contract" / "vendor"

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
            f"{pointer(tuple(e.instance_path))}: {e.message}" for e in schema.iter_errors(document)
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
            typed = query_value(value)
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
        yield pointer(tuple(error.instance_path)), error.message


@cache
def contract(platform: str) -> _Contract:
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
