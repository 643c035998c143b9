"""A stand-in for one shop's Shopify Admin GraphQL API that refuses what Shopify refuses.

Every request is judged by Shopify's published schema for the version in its URL
(standins/shopify_schema.py) before anything else happens. A document that does not parse or
validate (deprecated fields included), or variables that do not coerce, get Shopify's refusal
(standins/shopify_errors.py: HTTP 200 with `errors`, no `data`). A valid document is executed
against a small model of the shop (standins/shopify_shop.py), the schema itself shaping the
answer (only what was selected comes back); anything the model does not know is an error naming
it, never a made-up success. Every answer carries Shopify's cost report from a leaky bucket
(standins/shopify_cost.py), `THROTTLED` when it runs dry.

Use it as a respx side effect (`route.mock(side_effect=shopify)`) or call `answer(body)` from
an HTTP stand-in (bench/sync_burst.py). `answer_next(...)` scripts a failure (THROTTLED, 5xx,
401) for the next valid requests; scripted answers never skip validation.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
)

from standins.shopify_cost import CostBucket, requested_cost
from standins.shopify_errors import not_modelled, refusal
from standins.shopify_schema import (
    VariablesError,
    admin_schema,
    coerce_variables,
    parse_document,
    validate_document,
)
from standins.shopify_shop import Root, ShopModel, customer_node

__all__ = ["Call", "CostBucket", "ShopifyAdmin", "customer_node"]

# Errors (other than THROTTLED) answered by stand-ins that did not expect to answer any. The
# test suite fails a test that leaves one here (tests/conftest.py), so no test passes while
# the app sent something Shopify would refuse, whatever else the test checks.
UNEXPECTED_ERRORS: list[str] = []
_VERSION_IN_PATH = re.compile(r"/admin/api/([^/]+)/graphql\.json$")


@dataclass(frozen=True)
class _Valid:
    name: str | None
    raw_variables: Any
    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]
    version: str | None


@dataclass(frozen=True)
class Call:
    """One request the stand-in answered."""

    operation: str | None  # the operation's name, when it had one
    variables: dict[str, Any]
    status: int
    payload: dict[str, Any]

    @property
    def rejected(self) -> bool:
        """Refused for its document or variables (errors and no data), as Shopify refuses."""
        return "errors" in self.payload and "data" not in self.payload

    @property
    def failed(self) -> bool:
        """Answered with errors other than THROTTLED (refused, or asked what is not modelled)."""
        errors = self.payload.get("errors")
        return bool(errors) and not (
            isinstance(errors, list)
            and all((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)
        )


@dataclass
class ShopifyAdmin(ShopModel):
    """One shop's Admin GraphQL endpoint (see the module's docstring)."""

    bucket: CostBucket = field(default_factory=CostBucket)
    version: str | None = None  # None: the version in each request's URL (else the pinned one)
    expect_errors: bool = False  # False: every error answered is noted in UNEXPECTED_ERRORS
    calls: list[Call] = field(default_factory=list)
    _scripted: deque[httpx.Response] = field(default_factory=deque)

    @property
    def rejected(self) -> list[Call]:
        """The requests refused for their document or variables (never scripted failures)."""
        return [call for call in self.calls if call.rejected]

    def answer_next(self, *responses: httpx.Response) -> None:
        """Answer the next valid requests with these (THROTTLED, 5xx, 401…) instead."""
        self._scripted.extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """respx side effect: `mock.post(url).mock(side_effect=shopify)`."""
        try:
            body = json.loads(request.content)
        except ValueError:
            body = None
        match = _VERSION_IN_PATH.search(request.url.path)
        judged = self._judge(body, match.group(1) if match else None)
        if isinstance(judged, tuple):
            return httpx.Response(judged[0], json=judged[1])
        if self._scripted:
            response = self._scripted.popleft()
            self._record(judged.name, judged.raw_variables, response.status_code, {})
            return response
        status, payload = self._execute(judged)
        return httpx.Response(status, json=payload)

    def answer(self, body: Any, *, version: str | None = None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one POST to `/admin/api/<version>/graphql.json`."""
        judged = self._judge(body, version)
        return judged if isinstance(judged, tuple) else self._execute(judged)

    def _judge(self, body: Any, version: str | None) -> _Valid | tuple[int, dict[str, Any]]:
        """The request, parsed and coerced, or Shopify's refusal of it (recorded)."""
        version = self.version or version
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self._record(None, {}, 400, {"errors": "Bad Request: no `query` in the body"})
        raw_variables = body.get("variables") or {}
        operation_name = body.get("operationName")
        try:
            document = parse_document(body["query"])
        except GraphQLError as error:
            return self._record(None, raw_variables, 200, refusal([error], None, "parseError"))
        operation = get_operation_ast(document, operation_name)
        name = operation.name.value if operation and operation.name else None
        if problems := validate_document(document, version=version):
            return self._record(name, raw_variables, 200, refusal(problems, document, None))
        if operation is None:
            problem = GraphQLError("An operation name is required")
            return self._record(None, raw_variables, 200, refusal([problem], None, "operationName"))
        try:
            variables = coerce_variables(
                document, raw_variables, operation_name=operation_name, version=version
            )
        except VariablesError as error:
            refused = refusal(error.errors, None, "INVALID_VARIABLE")
            return self._record(name, raw_variables, 200, refused)
        return _Valid(name, raw_variables, document, operation, variables, version)

    def _execute(self, request: _Valid) -> tuple[int, dict[str, Any]]:
        schema = admin_schema(request.version).schema
        cost = requested_cost(schema, request.operation, request.variables)
        if not self.bucket.take(cost):
            return self._record(
                request.name, request.raw_variables, 200, self.bucket.throttled_answer(cost)
            )
        result = execute(
            schema,
            request.document,
            root_value=Root(self),
            variable_values=request.variables,
            operation_name=request.operation.name.value if request.operation.name else None,
            field_resolver=_resolve,
        )
        assert not isinstance(result, Awaitable)  # every resolver is synchronous
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        payload["extensions"] = self.bucket.report(cost, cost)
        return self._record(request.name, request.raw_variables, 200, payload)

    def _record(
        self, name: str | None, variables: Any, status: int, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        call = Call(name, variables if isinstance(variables, dict) else {}, status, payload)
        self.calls.append(call)
        if call.failed and not self.expect_errors:
            UNEXPECTED_ERRORS.append(f"{name or 'a request'}: {call.payload['errors']}")
        return status, payload


def _resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Root fields call the model; other fields read the model's dicts (calling the value with
    the field's arguments when it is a function). A field the model has no value for is an
    error naming it, so no test passes on a made-up answer."""
    name = info.field_name
    if isinstance(source, Root):
        method = getattr(source, name, None)
        if method is None or name.startswith("_"):
            raise not_modelled(f"{info.parent_type.name}.{name}")
        return method(**args)
    if isinstance(source, Mapping) and name in source:
        value = source[name]
        return value(**args) if callable(value) else value  # a field that takes arguments
    raise not_modelled(f"{info.parent_type.name}.{name}")
