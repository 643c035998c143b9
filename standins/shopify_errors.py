"""Shopify's answer to a request it refuses before running it: **HTTP 200** with
`{"errors": [{"message", "locations", "path"?, "extensions": {"code", …}}]}` and no `data`
(https://shopify.dev/docs/api/admin-graphql#status_and_error_codes; `extensions.code` since
https://shopify.dev/changelog/improved-graphql-errors).

Shopify runs graphql-ruby, so graphql-core's validation messages are translated to its codes,
and to its wording where the two differ: `Field 'ownerId' doesn't exist on type 'Metafield'`
with code `undefinedField`, and a path like `["mutation Name", "field", "... on Type", …]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    Visitor,
    visit,
)

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


def not_modelled(what: str) -> GraphQLError:
    return GraphQLError(
        f"The Shopify stand-in does not model {what} (standins/shopify_shop.py)",
        extensions={"code": "NOT_MODELLED"},
    )


def refusal(
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
