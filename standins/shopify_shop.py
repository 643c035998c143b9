"""The little of a shop that the Shopify stand-in models, as the Admin schema's root fields:
- `shop { id }`; `customers` pages (by id, `first`/`after`) over seeded customers;
- `metafieldsSet`: at most 25 inputs (more is the top-level `MAX_INPUT_SIZE_EXCEEDED` error),
  atomic, `userErrors` with Shopify's `MetafieldsSetUserErrorCode`s for an unknown owner, a
  blank or unknown type, a type that disagrees with the app's definition in shopify.app.toml,
  a blank value or one its type refuses (integers, decimals, booleans, dates, json, one line);
- `metafieldsDelete`: the identifiers deleted, `null` for ones that did not exist;
- discount codes and store credit: standins/shopify_rewards.py;
- Flow triggers (`flowTriggerReceive`): standins/shopify_flow.py.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from graphql import GraphQLError

from standins.shopify_errors import not_modelled
from standins.shopify_flow import FlowModel, FlowRoot
from standins.shopify_rewards import RewardsModel, RewardsRoot
from standins.shopify_schema import app_config

GID = "gid://shopify/"
MAX_METAFIELDS = 25  # "Maximum of 25." (metafieldsSet's `metafields` argument)

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
class ShopModel(RewardsModel, FlowModel):
    """What the stand-in knows of the shop: its id, customers and metafields (and, from
    RewardsModel, its discount codes and store credit accounts)."""

    shop_id: int = 1
    customers: list[dict[str, Any]] = field(default_factory=list)
    definitions: dict[tuple[str, str, str], str] = field(default_factory=app_metafield_definitions)
    metafields: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    writes: list[tuple[str, str, str, str]] = field(default_factory=list)  # owner, ns, key, value
    gone: set[str] = field(default_factory=set)  # owner ids that no longer exist

    @property
    def shop_gid(self) -> str:
        return f"{GID}Shop/{self.shop_id}"

    def metafield(self, owner: str, key: str, namespace: str = "$app") -> str | None:
        stored = self.metafields.get((owner, namespace, key))
        return stored["value"] if stored else None

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


class Root(RewardsRoot, FlowRoot):
    """QueryRoot and Mutation: the fields the model answers."""

    admin: ShopModel

    def __init__(self, admin: ShopModel) -> None:
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
            raise not_modelled("customers arguments other than first, after, sortKey: ID")
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
