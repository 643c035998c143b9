"""Shopify's Admin GraphQL schema for the pinned API version, as Shopify publishes it.

The introspection schemas come from Shopify's own npm package `@shopify/dev-mcp` (pinned in
package-lock.json, installed by `npm ci`): `dist/data/admin_<version>.json.gz`, each with an
`offline_scopes` map (type or field → the access scopes an offline token needs for it). The
version is `[webhooks] api_version` of shopify.app.toml, which must equal
`loyalty.settings.SHOPIFY_API_VERSION` (the one the Admin client sends).

This module answers, offline: is a document valid (the spec's rules plus "no deprecated
field"), do these variables coerce, and which scopes does an operation need. Schemas are built
once per process and version (about two seconds each).
"""

from __future__ import annotations

import gzip
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    get_named_type,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values
from graphql.validation import NoDeprecatedCustomRule

from loyalty.settings import SHOPIFY_API_VERSION

ROOT = Path(__file__).resolve().parent.parent
APP_TOML = ROOT / "shopify.app.toml"
SCHEMAS = ROOT / "node_modules" / "@shopify" / "dev-mcp" / "dist" / "data"
VERSIONS = SCHEMAS / "supported-versions-schema.json"

# Shopify's own validation plus one rule of ours: no deprecated field, argument or enum value
# (Shopify still answers those, but they are removed in a later version without notice here).
RULES = (*specified_rules, NoDeprecatedCustomRule)

Requirement = frozenset[str]  # any one of these scopes satisfies it

# `metafieldsSet` and `metafieldsDelete` need "the same access level needed to mutate the owner
# resource" (their `requiredAccess`; https://shopify.dev/docs/api/admin-graphql/latest/mutations/
# metafieldsSet), which the offline_scopes map cannot list: it does not know the owner. Used
# only where the map lists nothing. Customers are mutated with `write_customers`
# (https://shopify.dev/docs/api/admin-graphql/latest/mutations/customerUpdate); the shop's own
# metafields need no scope (there is no scope to mutate the shop).
METAFIELD_WRITES = frozenset({("Mutation", "metafieldsSet"), ("Mutation", "metafieldsDelete")})
OWNER_WRITE_SCOPES: Mapping[str, frozenset[str]] = {
    "Customer": frozenset({"write_customers"}),
    "Shop": frozenset(),
}


class ContractMissingError(RuntimeError):
    """Shopify's published schema is not installed."""


class VariablesError(ValueError):
    """The variables do not coerce to the operation's variable definitions."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


@cache
def app_config() -> dict[str, Any]:
    """shopify.app.toml, parsed."""
    with APP_TOML.open("rb") as file:
        return tomllib.load(file)


def pinned_version() -> str:
    """The Admin API version the app is built against (shopify.app.toml = settings)."""
    version = str(app_config()["webhooks"]["api_version"])
    if version != SHOPIFY_API_VERSION:
        raise ValueError(
            f"shopify.app.toml [webhooks] api_version is {version} but "
            f"loyalty.settings.SHOPIFY_API_VERSION is {SHOPIFY_API_VERSION}: they must agree"
        )
    return version


@cache
def _admin_versions() -> tuple[dict[str, Any], ...]:
    if not VERSIONS.exists():
        raise _missing(VERSIONS)
    return tuple(json.loads(VERSIONS.read_text())["admin"])


def latest_stable_version() -> str:
    """The version the package marks `latestVersion` (2026-07 in @shopify/dev-mcp 1.16.0)."""
    return next(str(v["name"]) for v in _admin_versions() if v.get("latestVersion"))


def is_release_candidate(version: str) -> bool:
    return any(v["name"] == version and v.get("releaseCandidate") for v in _admin_versions())


def versions_under_test() -> tuple[str, ...]:
    """The pinned version and, when that one is a release candidate, the latest stable too."""
    return tuple(dict.fromkeys((pinned_version(), latest_stable_version())))


@dataclass(frozen=True)
class AdminSchema:
    version: str
    schema: GraphQLSchema
    # (type name, field name or None for the type itself) → the scopes listed for it
    offline_scopes: Mapping[tuple[str, str | None], Requirement]


@cache
def admin_schema(version: str | None = None) -> AdminSchema:
    """The Admin schema of `version` (default: the pinned one), built once."""
    version = version or pinned_version()
    path = SCHEMAS / f"admin_{version}.json.gz"
    if not path.exists():
        raise _missing(path)
    with gzip.open(path, "rt", encoding="utf-8") as file:
        data = json.load(file)
    scopes = {
        (item["typeName"], item.get("fieldName") if item["type"] == "field" else None): frozenset(
            item.get("offlineScopes") or ()
        )
        for item in data["offline_scopes"]["items"]
    }
    return AdminSchema(version, build_client_schema(data["data"]), scopes)


def _missing(path: Path) -> ContractMissingError:
    return ContractMissingError(
        f"{path.relative_to(ROOT)} is missing: Shopify's Admin GraphQL schemas come from the "
        "npm package @shopify/dev-mcp; run `npm ci` (or `make test`, which runs it) first"
    )


def parse_document(document: str | DocumentNode) -> DocumentNode:
    return document if isinstance(document, DocumentNode) else parse(document)


def validate_document(
    document: str | DocumentNode, *, version: str | None = None
) -> list[GraphQLError]:
    """Every reason Shopify (or the deprecation rule) refuses the document; [] when valid."""
    try:
        node = parse_document(document)
    except GraphQLError as error:  # a syntax error
        return [error]
    return validate(admin_schema(version).schema, node, RULES)


def coerce_variables(
    document: str | DocumentNode,
    variables: Mapping[str, Any] | None,
    *,
    operation_name: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """The variables as the operation's definitions coerce them; raises VariablesError."""
    node = parse_document(document)
    operation = get_operation_ast(node, operation_name)
    if operation is None:
        raise ValueError(f"no operation {operation_name or ''} in the document")
    coerced = get_variable_values(
        admin_schema(version).schema, operation.variable_definitions or (), dict(variables or {})
    )
    if isinstance(coerced, list):
        raise VariablesError(coerced)
    return coerced


def required_scopes(
    document: str | DocumentNode,
    *,
    metafield_owners: Iterable[str] = (),
    version: str | None = None,
) -> dict[Requirement, tuple[str, ...]]:
    """The access scopes the operation needs, each with what in the document needs it.

    Every type and field the document selects (and the input types of its arguments and
    variables) is looked up in Shopify's offline_scopes map; an entry listing several scopes is
    satisfied by any one of them ("Any of `write_content`, `write_online_store_pages`").
    Metafield writes add their owners' write scopes (`OWNER_WRITE_SCOPES`)."""
    admin = admin_schema(version)
    type_info = TypeInfo(admin.schema)
    needs: dict[Requirement, set[str]] = {}
    owners = tuple(metafield_owners)

    def need(key: tuple[str, str | None]) -> None:
        if scopes := admin.offline_scopes.get(key):
            what = f"{key[0]}.{key[1]}" if key[1] else key[0]
            needs.setdefault(scopes, set()).add(what)

    def need_type(named: GraphQLNamedType | None, seen: set[str] | None = None) -> None:
        if named is None:
            return
        need((named.name, None))
        seen = seen if seen is not None else set()
        if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
            seen.add(named.name)
            for field in named.fields.values():
                need_type(get_named_type(field.type), seen)

    def metafield_write(parent: str, field: str) -> None:
        if not owners:
            raise ValueError(f"{parent}.{field} writes metafields: name their owner types")
        for owner in owners:
            if owner not in OWNER_WRITE_SCOPES:
                raise ValueError(f"no write scope known for metafields owned by {owner}")
            for scope in OWNER_WRITE_SCOPES[owner]:
                needs.setdefault(frozenset({scope}), set()).add(f"{parent}.{field} on {owner}")

    class Collect(Visitor):
        def enter_operation_definition(self, *_: Any) -> None:
            need_type(type_info.get_parent_type())

        def enter_field(self, node: Any, *_: Any) -> None:
            parent, field = type_info.get_parent_type(), type_info.get_field_def()
            if parent is None or field is None:
                return
            key = (parent.name, node.name.value)
            need(key)
            if key in METAFIELD_WRITES and not admin.offline_scopes.get(key):
                metafield_write(*key)
            need_type(get_named_type(field.type))

        def enter_inline_fragment(self, *_: Any) -> None:
            need_type(type_info.get_type())  # type: ignore[arg-type]

        def enter_fragment_definition(self, *_: Any) -> None:
            need_type(type_info.get_type())  # type: ignore[arg-type]

        def enter_argument(self, *_: Any) -> None:
            need_type(get_named_type(type_info.get_input_type()))

        def enter_variable_definition(self, *_: Any) -> None:
            need_type(get_named_type(type_info.get_input_type()))

    visit(parse_document(document), TypeInfoVisitor(type_info, Collect()))
    return {scopes: tuple(sorted(why)) for scopes, why in needs.items()}


def webhook_topics(version: str | None = None) -> dict[str, bool]:
    """`WebhookSubscriptionTopic` values → whether each is deprecated."""
    topic_enum = admin_schema(version).schema.get_type("WebhookSubscriptionTopic")
    values = getattr(topic_enum, "values", {})
    return {name: value.deprecation_reason is not None for name, value in values.items()}
