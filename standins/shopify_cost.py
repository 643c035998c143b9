"""Shopify's cost of a query and the shop's leaky bucket of it, as Shopify reports both on every
answer (`extensions.cost`) and answers `THROTTLED` when the bucket cannot cover a query:
https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10  # https://shopify.dev/docs/api/usage/limits#cost-calculation


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

    def throttled_answer(self, requested: float) -> dict[str, Any]:
        """Shopify's THROTTLED answer, with the cost report that says how long to wait."""
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": self.report(requested, None),
        }


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
