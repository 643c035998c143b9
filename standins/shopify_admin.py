"""A stand-in for one shop's Shopify Admin GraphQL API that refuses what Shopify refuses.

Every request is judged by Shopify's published schema for the version in its URL
(standins/shopify_schema.py) before anything else happens. A document that does not parse or
validate (deprecated fields included), or variables that do not coerce, get Shopify's answer
to a bad request: **HTTP 200** with `{"errors": [{"message", "locations", "path"?,
"extensions": {"code", …}}]}` and no `data` (https://shopify.dev/docs/api/admin-graphql#status_and_error_codes;
`extensions.code` since https://shopify.dev/changelog/improved-graphql-errors). Shopify runs
graphql-ruby, so undefined fields read as Shopify words them, `Field 'ownerId' doesn't exist on
type 'Metafield'` with code `undefinedField`; the other graphql-ruby codes below are by rule.

A valid document is executed against a small model of the shop, with the schema itself doing
the shaping (only what was selected comes back):
- `shop { id }`; `customers` pages (by id, `first`/`after`) over seeded customers;
- `metafieldsSet`: at most 25 inputs (more is the top-level `MAX_INPUT_SIZE_EXCEEDED` error),
  atomic, `userErrors` with Shopify's `MetafieldsSetUserErrorCode`s for an unknown owner, a
  blank or unknown type, a type that disagrees with the app's definition in shopify.app.toml,
  a blank value or one its type refuses (integers, dates, json, booleans, one-line text);
- `metafieldsDelete`: the identifiers deleted, `null` for ones that did not exist.
Anything it does not model is an error naming it, never a made-up success. Every answer
carries Shopify's cost report, from a leaky bucket (`THROTTLED` when it runs dry):
https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits

Use it as a respx side effect (`route.mock(side_effect=shopify)`) or call `answer(body)` from
an HTTP stand-in (bench/sync_burst.py). `answer_next(...)` scripts a failure (THROTTLED, 5xx,
401) for the next valid requests; scripted answers never skip validation.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    execute,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    value_from_ast_untyped,
    visit,
)

from standins.shopify_schema import (
    VariablesError,
    admin_schema,
    app_config,
    coerce_variables,
    parse_document,
    validate_document,
)

GID = "gid://shopify/"
MAX_METAFIELDS = 25  # "Maximum of 25." (metafieldsSet's `metafields` argument)
MUTATION_COST = 10  # https://shopify.dev/docs/api/usage/limits#cost-calculation
# Errors (other than THROTTLED) answered by stand-ins that did not expect to answer any. The
# test suite fails a test that leaves one here (tests/conftest.py), so no test passes while
# the app sent something Shopify would refuse, whatever else the test checks.
UNEXPECTED_ERRORS: list[str] = []
_VERSION_IN_PATH = re.compile(r"/admin/api/([^/]+)/graphql\.json$")

# graphql-core's message → graphql-ruby's code (and Shopify's wording where it differs).
_VALIDATION_CODES: tuple[tuple[re.Pattern[str], str, str | None], ...] = (
    (
        re.compile(r"Cannot query field '(?P<fieldName>\w+)' on type '(?P<typeName>\w+)'"),
        "undefinedField",
        "Field '{fieldName}' doesn't exist on type '{typeName}'",
    ),
    (
        re.compile(r"Unknown argument '(?P<argumentName>\w+)' on field '\w+\.(?P<fieldName>\w+)'"),
        "argumentNotAccepted",
        "Field '{fieldName}' doesn't accept argument '{argumentName}'",
    ),
    (
        re.compile(r"Field '(?P<fieldName>\w+)' argument '(?P<arguments>\w+)' .* is required"),
        "missingRequiredArguments",
        "Field '{fieldName}' is missing required arguments: {arguments}",
    ),
    (re.compile(r"Unknown type '(?P<typeName>\w+)'"), "undefinedType", None),
    (re.compile(r"Variable '\$(?P<variableName>\w+)' is never used"), "variableNotUsed", None),
    (re.compile(r"Variable '\$(?P<variableName>\w+)' is not defined"), "undefinedVariable", None),
    (
        re.compile(r"Variable '\$(?P<variableName>\w+)' of type .* used in position"),
        "variableMismatch",
        None,
    ),
    (re.compile(r"must (not )?have a selection"), "selectionMismatch", None),
    (re.compile(r"Expected value of type|cannot represent"), "argumentLiteralsIncompatible", None),
    (re.compile(r"is deprecated"), "deprecated", None),  # our rule: Shopify only warns
)

# https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-data-types
METAFIELD_TYPES = frozenset(
    {
        "boolean", "color", "date", "date_time", "dimension", "id", "json", "link", "money",
        "multi_line_text_field", "number_decimal", "number_integer", "rating", "rich_text_field",
        "single_line_text_field", "url", "volume", "weight", "collection_reference",
        "customer_reference", "file_reference", "metaobject_reference", "mixed_reference",
        "page_reference", "product_reference", "variant_reference",
    }
)  # fmt: skip
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_MAX_INTEGER = 9_007_199_254_740_991  # number_integer's range


def customer_node(
    customer_id: int,
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    tags: Iterable[str] = (),
    created_at: str = "2024-01-01T00:00:00Z",
    updated_at: str | None = None,
) -> dict[str, Any]:
    """A seeded customer, shaped as the Admin schema's `Customer` (the fields the model knows)."""
    return {
        "__typename": "Customer",
        "id": f"{GID}Customer/{customer_id}",
        "firstName": first_name,
        "lastName": last_name,
        "tags": list(tags),
        "createdAt": created_at,
        "updatedAt": updated_at or created_at,
        "defaultEmailAddress": {"emailAddress": email} if email else None,
    }


def app_metafield_definitions() -> dict[tuple[str, str, str], str]:
    """(owner type, namespace, key) → type, for the `$app` metafields shopify.app.toml declares."""
    config = app_config()
    definitions = {}
    for owner, section in (("Customer", "customer"), ("Shop", "shop")):
        for key, definition in config.get(section, {}).get("metafields", {}).get("app", {}).items():
            definitions[(owner, "$app", key)] = str(definition["type"])
    return definitions


@dataclass
class CostBucket:
    """The shop's leaky bucket of query cost (Standard plan: 2,000 points, 100 a second)."""

    maximum: float = 2000.0
    restore: float = 100.0
    clock: Callable[[], float] = time.monotonic
    available: float = -1.0  # full at start
    at: float = 0.0
    throttled: int = 0

    def take(self, cost: float) -> bool:
        now = self.clock()
        if self.available < 0:
            self.available, self.at = self.maximum, now
        self.available = min(self.maximum, self.available + (now - self.at) * self.restore)
        self.at = now
        if self.available < cost:
            self.throttled += 1
            return False
        self.available -= cost
        return True

    def report(self, requested: float, actual: float | None) -> dict[str, Any]:
        status = {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available),
            "restoreRate": self.restore,
        }
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": status,
            }
        }


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
class ShopifyAdmin:
    shop_id: int = 1
    customers: list[dict[str, Any]] = field(default_factory=list)
    bucket: CostBucket = field(default_factory=CostBucket)
    definitions: dict[tuple[str, str, str], str] = field(default_factory=app_metafield_definitions)
    version: str | None = None  # None: the version in each request's URL (else the pinned one)
    expect_errors: bool = False  # False: every error answered is noted in UNEXPECTED_ERRORS
    metafields: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    writes: list[tuple[str, str, str, str]] = field(default_factory=list)  # owner, ns, key, value
    calls: list[Call] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # owner ids that no longer exist
    _scripted: deque[httpx.Response] = field(default_factory=deque)

    @property
    def shop_gid(self) -> str:
        return f"{GID}Shop/{self.shop_id}"

    @property
    def rejected(self) -> list[Call]:
        """The requests refused for their document or variables (never scripted failures)."""
        return [call for call in self.calls if call.rejected]

    def answer_next(self, *responses: httpx.Response) -> None:
        """Answer the next valid requests with these (THROTTLED, 5xx, 401…) instead."""
        self._scripted.extend(responses)

    def metafield(self, owner: str, key: str, namespace: str = "$app") -> str | None:
        stored = self.metafields.get((owner, namespace, key))
        return stored["value"] if stored else None

    # ------------------------------------------------------------------ HTTP

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
            return self._record(None, raw_variables, 200, _refusal([error], None, "parseError"))
        operation = get_operation_ast(document, operation_name)
        name = operation.name.value if operation and operation.name else None
        if problems := validate_document(document, version=version):
            return self._record(name, raw_variables, 200, _refusal(problems, document, None))
        if operation is None:
            problem = GraphQLError("An operation name is required")
            return self._record(
                None, raw_variables, 200, _refusal([problem], None, "operationName")
            )
        try:
            variables = coerce_variables(
                document, raw_variables, operation_name=operation_name, version=version
            )
        except VariablesError as error:
            refusal = _refusal(error.errors, None, "INVALID_VARIABLE")
            return self._record(name, raw_variables, 200, refusal)
        return _Valid(name, raw_variables, document, operation, variables, version)

    def _execute(self, request: _Valid) -> tuple[int, dict[str, Any]]:
        schema = admin_schema(request.version).schema
        cost = requested_cost(schema, request.operation, request.variables)
        if not self.bucket.take(cost):
            throttled = {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": self.bucket.report(cost, None),
            }
            return self._record(request.name, request.raw_variables, 200, throttled)
        result = execute(
            schema,
            request.document,
            root_value=_Root(self),
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

    # ------------------------------------------------------------------ the model

    def owner(self, gid: str) -> dict[str, Any] | None:
        """The metafield owner with this id, shaped as its GraphQL type, if it exists."""
        if gid in self.gone:
            return None
        if gid == self.shop_gid:
            return {"__typename": "Shop", "id": gid}
        kind, _, number = gid.removeprefix(GID).partition("/")
        if kind != "Customer" or not gid.startswith(GID) or not number.isdigit():
            return None
        known = next((c for c in self.customers if c["id"] == gid), None)
        return known or {"__typename": "Customer", "id": gid}


class _Root:
    """QueryRoot and Mutation: the fields the model answers."""

    def __init__(self, admin: ShopifyAdmin) -> None:
        self.admin = admin

    def shop(self) -> dict[str, Any]:
        return {"__typename": "Shop", "id": self.admin.shop_gid}

    def customers(
        self,
        first: int | None = None,
        after: str | None = None,
        sortKey: str | None = None,
        reverse: bool = False,
        **others: Any,
    ) -> dict[str, Any]:
        if others or reverse or sortKey not in (None, "ID"):
            raise _not_modelled("customers arguments other than first, after, sortKey: ID")
        if first is None:
            raise GraphQLError(
                "you must provide one of first or last", extensions={"code": "BAD_REQUEST"}
            )
        ordered = sorted(self.admin.customers, key=lambda c: int(c["id"].rsplit("/", 1)[-1]))
        start = 0
        if after is not None:
            start = next(
                (i + 1 for i, c in enumerate(ordered) if _cursor(c) == after), len(ordered)
            )
        page = ordered[start : start + first]
        return {
            "nodes": page,
            "edges": [{"node": c, "cursor": _cursor(c)} for c in page],
            "pageInfo": {
                "hasNextPage": start + first < len(ordered),
                "hasPreviousPage": start > 0,
                "startCursor": _cursor(page[0]) if page else None,
                "endCursor": _cursor(page[-1]) if page else None,
            },
        }

    def metafieldsSet(self, metafields: list[dict[str, Any]]) -> dict[str, Any]:
        if len(metafields) > MAX_METAFIELDS:
            raise GraphQLError(
                f"The input array size of {len(metafields)} is greater than the maximum "
                f"allowed of {MAX_METAFIELDS}.",
                extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
            )
        errors = [e for i, m in enumerate(metafields) for e in self._check(i, m)]
        if errors:  # atomic: nothing is written
            return {"metafields": [], "userErrors": errors}
        written = []
        for item in metafields:
            owner = self.admin.owner(item["ownerId"])
            assert owner is not None
            namespace, key = item.get("namespace") or "$app", item["key"]
            value_type = item.get("type") or self._definition(owner, namespace, key) or ""
            stored = {"type": value_type, "value": item["value"]}
            self.admin.metafields[(item["ownerId"], namespace, key)] = stored
            self.admin.writes.append((item["ownerId"], namespace, key, item["value"]))
            written.append(
                {
                    "__typename": "Metafield",
                    "key": key,
                    "namespace": namespace,
                    "value": item["value"],
                    "type": value_type,
                    "owner": owner,
                    "ownerType": owner["__typename"].upper(),
                }
            )
        return {"metafields": written, "userErrors": []}

    def metafieldsDelete(self, metafields: list[dict[str, Any]]) -> dict[str, Any]:
        deleted: list[dict[str, Any] | None] = []
        for item in metafields:
            where = (item["ownerId"], item["namespace"], item["key"])
            found = self.admin.metafields.pop(where, None)
            deleted.append(
                None
                if found is None
                else {"ownerId": where[0], "namespace": where[1], "key": where[2]}
            )
        return {"deletedMetafields": deleted, "userErrors": []}

    def _definition(self, owner: dict[str, Any], namespace: str, key: str) -> str | None:
        return self.admin.definitions.get((owner["__typename"], namespace, key))

    def _check(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        def error(field_name: str, code: str, message: str) -> dict[str, Any]:
            return {
                "__typename": "MetafieldsSetUserError",
                "field": ["metafields", str(index), field_name],
                "message": message,
                "code": code,
                "elementIndex": index,
            }

        owner = self.admin.owner(item["ownerId"])
        if owner is None:
            return [error("ownerId", "INVALID", "Owner does not exist.")]
        namespace = item.get("namespace") or "$app"
        defined = self._definition(owner, namespace, item["key"])
        value_type = item.get("type")
        if not value_type and not defined:
            return [error("type", "BLANK", "Type can't be blank.")]
        value_type = value_type or defined or ""
        if value_type.removeprefix("list.") not in METAFIELD_TYPES:
            return [error("type", "INVALID_TYPE", f"Type '{value_type}' is not a valid type.")]
        if defined and value_type != defined:
            message = (
                f"Type '{value_type}' must be consistent with the definition's type '{defined}'."
            )
            return [error("type", "INVALID_TYPE", message)]
        value = item["value"]
        if value == "":
            return [error("value", "BLANK", "Value can't be blank.")]
        if problem := _invalid_value(value_type, value):
            return [error("value", "INVALID_VALUE", problem)]
        return []


def _invalid_value(value_type: str, value: str) -> str | None:
    """Why Shopify refuses this value for the type, for the types cheap to check."""
    if value_type == "number_integer":
        if not _INTEGER.fullmatch(value) or abs(int(value)) > _MAX_INTEGER:
            return "Value must be an integer."
    elif value_type == "number_decimal" and not _DECIMAL.fullmatch(value):
        return "Value must be a decimal."
    elif value_type == "boolean" and value not in ("true", "false"):
        return "Value must be true or false."
    elif value_type == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "Value must be in YYYY-MM-DD format."
        if len(value) != 10:
            return "Value must be in YYYY-MM-DD format."
    elif value_type == "date_time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "Value must be in ISO 8601 format."
    elif value_type == "json":
        try:
            json.loads(value)
        except ValueError:
            return "Value is invalid JSON."
    elif value_type == "single_line_text_field" and ("\n" in value or "\r" in value):
        return "Value must be a single line of text."
    return None


def _cursor(customer: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps({"last_id": customer["id"]}).encode()).decode()


def _not_modelled(what: str) -> GraphQLError:
    return GraphQLError(
        f"The Shopify stand-in does not model {what} (standins/shopify_admin.py)",
        extensions={"code": "NOT_MODELLED"},
    )


def _resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Root fields call the model; other fields read the model's dicts. A field the model has
    no value for is an error naming it, so no test passes on a made-up answer."""
    name = info.field_name
    if isinstance(source, _Root):
        method = getattr(source, name, None)
        if method is None or name.startswith("_"):
            raise _not_modelled(f"{info.parent_type.name}.{name}")
        return method(**args)
    if isinstance(source, Mapping) and name in source:
        return source[name]
    raise _not_modelled(f"{info.parent_type.name}.{name}")


def _refusal(
    errors: list[GraphQLError], document: DocumentNode | None, code: str | None
) -> dict[str, Any]:
    """Shopify's answer to a document or variables it refuses: errors only, no data."""
    paths = _paths(document) if document is not None else {}
    return {"errors": [_shopify_error(e, paths, code) for e in errors]}


def _shopify_error(
    error: GraphQLError, paths: Mapping[int, list[str]], code: str | None
) -> dict[str, Any]:
    message, extensions = error.message, {"code": code or "invalidDocument"}
    if code is None:
        for pattern, rule_code, wording in _VALIDATION_CODES:
            if match := pattern.search(error.message):
                extensions = {"code": rule_code, **match.groupdict()}
                message = wording.format(**match.groupdict()) if wording else message
                break
    formatted: dict[str, Any] = {"message": message}
    if error.locations:
        formatted["locations"] = [{"line": at.line, "column": at.column} for at in error.locations]
    if error.nodes and id(error.nodes[0]) in paths:
        formatted["path"] = paths[id(error.nodes[0])]
    formatted["extensions"] = extensions
    return formatted


def _paths(document: DocumentNode) -> dict[int, list[str]]:
    """graphql-ruby's error paths: each node → ["mutation Name", "field", "... on Type", …]."""
    paths: dict[int, list[str]] = {}
    stack: list[str] = []

    class Walk(Visitor):
        def enter(self, node: Any, *_: Any) -> None:
            if isinstance(node, OperationDefinitionNode):
                label = node.operation.value + (f" {node.name.value}" if node.name else "")
            elif isinstance(node, FieldNode):
                label = node.name.value
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition.name.value if node.type_condition else ""
                label = f"... on {condition}".rstrip()
            else:
                paths[id(node)] = list(stack)
                return
            stack.append(label)
            paths[id(node)] = list(stack)

        def leave(self, node: Any, *_: Any) -> None:
            if isinstance(node, OperationDefinitionNode | FieldNode | InlineFragmentNode):
                stack.pop()

    visit(document, Walk())
    return paths


def requested_cost(
    schema: Any,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> int:
    """Shopify's published estimate: a mutation 10; in a query an object 1, scalars 0, and a
    connection 2 + `first` × what each node costs (https://shopify.dev/docs/api/usage/limits)."""
    if operation.operation is OperationType.MUTATION:
        return MUTATION_COST
    return max(1, _selection_cost(schema.query_type, operation.selection_set, variables))


def _selection_cost(parent: Any, selection_set: SelectionSetNode | None, variables: Any) -> int:
    if selection_set is None or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            total += _selection_cost(parent, selection.selection_set, variables)
            continue
        if not isinstance(selection, FieldNode) or selection.name.value not in parent.fields:
            continue
        named = get_named_type(parent.fields[selection.name.value].type)
        if is_leaf_type(named):
            continue
        if named.name.endswith("Connection"):
            size = _argument(selection, "first", variables) or _argument(
                selection, "last", variables
            )
            nodes = [
                s
                for s in (selection.selection_set.selections if selection.selection_set else ())
                if isinstance(s, FieldNode) and s.name.value in ("nodes", "edges")
            ]
            node_cost = sum(
                _selection_cost(named, SelectionSetNode(selections=(n,)), variables) for n in nodes
            )
            total += 2 + int(size or 0) * max(1, node_cost)
        else:
            total += 1 + _selection_cost(named, selection.selection_set, variables)
    return total


def _argument(node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    for argument in node.arguments or ():
        if argument.name.value == name:
            return value_from_ast_untyped(argument.value, dict(variables))
    return None
