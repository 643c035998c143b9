"""The Shopify Admin GraphQL stand-in (standins/shopify_admin.py) that every test's respx route
and bench/sync use: it refuses what Shopify's schema refuses, the way Shopify answers (HTTP 200
with `errors`, no `data`), and models the little the app relies on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from loyalty.settings import SHOPIFY_API_VERSION
from loyalty.shopify.operations import CUSTOMER_METAFIELDS_SET, CUSTOMERS_PAGE, SHOP_ID
from standins.shopify_admin import CostBucket, ShopifyAdmin, customer_node

URL = f"https://standin.myshopify.com/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
CUSTOMER = "gid://shopify/Customer/501"

# The document the app sent before issue 11: `Metafield` has no `ownerId`.
OLD_DOCUMENT = """mutation LoyaltyMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key ownerId }
    userErrors { field message code }
  }
}"""
OLD_BODY = {
    "query": OLD_DOCUMENT,
    "variables": {
        "metafields": [
            {
                "ownerId": CUSTOMER,
                "namespace": "$app",
                "key": "points",
                "type": "number_integer",
                "value": "10",
            }
        ]
    },
}
# How Shopify (graphql-ruby) words it: HTTP 200, errors only.
OLD_REFUSAL = {
    "errors": [
        {
            "message": "Field 'ownerId' doesn't exist on type 'Metafield'",
            "locations": [{"line": 3, "column": 22}],
            "path": ["mutation LoyaltyMetafieldsSet", "metafieldsSet", "metafields", "ownerId"],
            "extensions": {
                "code": "undefinedField",
                "typeName": "Metafield",
                "fieldName": "ownerId",
            },
        }
    ]
}


def points(value: str, **overrides: Any) -> dict[str, Any]:
    return {
        "ownerId": CUSTOMER,
        "namespace": "$app",
        "key": "points",
        "type": "number_integer",
        "value": value,
    } | overrides


def ask(shopify: ShopifyAdmin, query: str, **variables: Any) -> dict[str, Any]:
    """What the stand-in answers to a POST of this document (always HTTP 200 here)."""
    status, answer = shopify.answer({"query": query, "variables": variables})
    assert status == 200
    return answer


def set_metafields(shopify: ShopifyAdmin, *metafields: dict[str, Any]) -> dict[str, Any]:
    return ask(shopify, CUSTOMER_METAFIELDS_SET.document, metafields=list(metafields))


def post(shopify: ShopifyAdmin, body: dict[str, Any], url: str = URL) -> httpx.Response:
    return shopify(httpx.Request("POST", url, json=body))


class TestRefusesWhatShopifyRefuses:
    def test_an_error_nobody_expected_fails_the_test(self) -> None:
        """The suite-wide guard (tests/conftest.py) sees every error a stand-in answers."""
        from standins.shopify_admin import UNEXPECTED_ERRORS

        ShopifyAdmin().answer(OLD_BODY)
        assert len(UNEXPECTED_ERRORS) == 1 and "ownerId" in UNEXPECTED_ERRORS[0]
        UNEXPECTED_ERRORS.clear()  # this test wanted it

    async def test_the_old_owner_id_document_through_respx(self) -> None:
        """The document of before issue 11 gets Shopify's refusal, and writes nothing."""
        shopify = ShopifyAdmin(expect_errors=True)
        with respx.mock(assert_all_called=True) as mock:
            mock.post(URL).mock(side_effect=shopify)
            async with httpx.AsyncClient() as http:
                response = await http.post(URL, json=OLD_BODY)
        assert response.status_code == 200
        assert response.json() == OLD_REFUSAL
        assert shopify.metafields == {} and len(shopify.rejected) == 1

    async def test_the_old_owner_id_document_through_the_bench_stand_in(self) -> None:
        """bench/sync's Shopify stand-in answers it the same way, and counts it."""
        from bench.sync_burst import Stubs, stub_app

        stubs = Stubs()
        stubs.shopify.expect_errors = True
        transport = httpx.ASGITransport(app=stub_app(stubs))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            path = f"/shopify/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
            refused = await http.post(path, json=OLD_BODY)
            body = {"query": CUSTOMER_METAFIELDS_SET.document, "variables": OLD_BODY["variables"]}
            written = await http.post(path, json=body)
        assert refused.status_code == 200 and refused.json() == OLD_REFUSAL
        assert len(stubs.shopify.rejected) == 1
        assert written.json()["data"] == {"metafieldsSet": {"userErrors": []}}
        assert [points for _, points in stubs.metafield_writes[501]] == [10]

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            pytest.param({"query": "query { shop { id }"}, "parseError", id="syntax"),
            pytest.param(
                {"query": "query Old { customers(first: 1) { nodes { email } } }"},
                "deprecated",
                id="deprecated-field",
            ),
            pytest.param(
                {"query": "query Q($n: Int!) { customers(first: $n) { nodes { id } } }"},
                "INVALID_VARIABLE",
                id="missing-variable",
            ),
            pytest.param(
                {"query": CUSTOMER_METAFIELDS_SET.document, "variables": {"metafields": [{}]}},
                "INVALID_VARIABLE",
                id="variables-that-do-not-coerce",
            ),
            pytest.param(
                {"query": "query Q { customers { nodes { id } } } query R { shop { id } }"},
                "operationName",
                id="which-operation",
            ),
        ],
    )
    def test_a_bad_request_is_http_200_with_errors_and_no_data(
        self, body: dict[str, Any], code: str
    ) -> None:
        shopify = ShopifyAdmin(expect_errors=True)
        status, answer = shopify.answer(body)
        assert status == 200 and set(answer) == {"errors"}
        assert answer["errors"][0]["extensions"]["code"] == code
        assert answer["errors"][0]["message"]

    def test_a_scripted_failure_never_skips_validation(self) -> None:
        """A queued 503 answers the next *valid* request only."""
        shopify = ShopifyAdmin(expect_errors=True)
        shopify.answer_next(httpx.Response(503))
        request = httpx.Request("POST", URL, json=OLD_BODY)
        assert shopify(request).json() == OLD_REFUSAL
        assert (
            shopify(httpx.Request("POST", URL, json={"query": SHOP_ID.document})).status_code == 503
        )
        after = shopify(httpx.Request("POST", URL, json={"query": SHOP_ID.document}))
        assert after.json()["data"] == {"shop": {"id": shopify.shop_gid}}

    def test_the_version_in_the_url_chooses_the_schema(self) -> None:
        shopify = ShopifyAdmin()
        url = URL.replace(SHOPIFY_API_VERSION, "2026-07")
        response = post(shopify, {"query": SHOP_ID.document}, url)
        assert response.status_code == 200 and "data" in response.json()


class TestMetafields:
    def test_more_than_25_is_a_top_level_error_and_nothing_is_written(self) -> None:
        shopify = ShopifyAdmin(expect_errors=True)
        answer = set_metafields(shopify, *[points(str(n)) for n in range(26)])
        assert answer["data"] == {"metafieldsSet": None}
        assert answer["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
        assert shopify.metafields == {}

    @pytest.mark.parametrize(
        ("metafield", "field", "code"),
        [
            pytest.param(points("12", ownerId="gid://shopify/Order/1"), "ownerId", "INVALID"),
            pytest.param(points(""), "value", "BLANK", id="blank-value"),
            pytest.param(points("1.5"), "value", "INVALID_VALUE", id="not-an-integer"),
            pytest.param(points("1", type="date"), "type", "INVALID_TYPE", id="not-the-definition"),
            pytest.param(points("1", type="integer"), "type", "INVALID_TYPE", id="unknown-type"),
            pytest.param(
                points("1", key="undeclared", type=None),
                "type",
                "BLANK",
                id="no-type-no-definition",
            ),
            pytest.param(
                points("31/01/2027", key="points_expiry_date", type="date"),
                "value",
                "INVALID_VALUE",
                id="not-a-date",
            ),
            pytest.param(
                points("a\nb", key="vip_tier", type="single_line_text_field"),
                "value",
                "INVALID_VALUE",
                id="two-lines",
            ),
        ],
    )
    def test_values_shopify_refuses_are_user_errors_and_the_call_writes_nothing(
        self, metafield: dict[str, Any], field: str, code: str
    ) -> None:
        """userErrors as Shopify reports them (MetafieldsSetUserErrorCode); atomic."""
        shopify = ShopifyAdmin()
        answer = set_metafields(shopify, points("5", key="lifetime_points"), metafield)
        [error] = answer["data"]["metafieldsSet"]["userErrors"]
        assert (error["field"], error["code"]) == (["metafields", "1", field], code)
        assert shopify.metafields == {}

    def test_the_type_may_be_left_to_the_apps_definition(self) -> None:
        shopify = ShopifyAdmin()
        answer = set_metafields(shopify, points("7", type=None))
        assert answer["data"]["metafieldsSet"]["userErrors"] == []
        assert shopify.metafields[(CUSTOMER, "$app", "points")] == {
            "type": "number_integer",
            "value": "7",
        }

    def test_only_what_is_selected_comes_back(self) -> None:
        """The schema shapes the answer: `owner { ... on Customer { id } }` is Shopify's way."""
        document = """mutation Set($metafields: [MetafieldsSetInput!]!) {
          metafieldsSet(metafields: $metafields) {
            metafields { key owner { ... on Customer { id } } }
            userErrors { field message }
          }
        }"""
        shopify = ShopifyAdmin()
        answer = ask(shopify, document, metafields=[points("3")])
        assert answer["data"]["metafieldsSet"] == {
            "metafields": [{"key": "points", "owner": {"id": CUSTOMER}}],
            "userErrors": [],
        }

    def test_delete_answers_null_for_a_metafield_that_was_not_there(self) -> None:
        shopify = ShopifyAdmin()
        set_metafields(shopify, points("3"))
        document = """mutation Delete($ids: [MetafieldIdentifierInput!]!) {
          metafieldsDelete(metafields: $ids) { deletedMetafields { key } userErrors { message } }
        }"""
        ids = [
            {"ownerId": CUSTOMER, "namespace": "$app", "key": "points"},
            {"ownerId": CUSTOMER, "namespace": "$app", "key": "vip_tier"},
        ]
        answer = ask(shopify, document, ids=ids)
        assert answer["data"]["metafieldsDelete"] == {
            "deletedMetafields": [{"key": "points"}, None],
            "userErrors": [],
        }
        assert shopify.metafield(CUSTOMER, "points") is None


class TestQueriesAndCost:
    def test_customers_page_by_id_through_every_seeded_customer(self) -> None:
        shopify = ShopifyAdmin(customers=[customer_node(n) for n in (3, 1, 2)])
        seen, after = [], None
        while True:
            answer = ask(shopify, CUSTOMERS_PAGE.document, first=2, after=after)
            connection = answer["data"]["customers"]
            seen += [node["id"] for node in connection["nodes"]]
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert seen == [f"gid://shopify/Customer/{n}" for n in (1, 2, 3)]
        assert answer["extensions"]["cost"]["requestedQueryCost"] == 2 + 2 * 2

    def test_a_field_it_does_not_model_is_an_error_not_a_made_up_answer(self) -> None:
        answer = ask(ShopifyAdmin(expect_errors=True), "query Q { shop { id name } }")
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == "NOT_MODELLED"
        assert "Shop.name" in answer["errors"][0]["message"]

    def test_an_empty_bucket_answers_throttled_with_the_cost_report(self) -> None:
        now = [0.0]
        shopify = ShopifyAdmin(bucket=CostBucket(maximum=15, restore=1, clock=lambda: now[0]))
        assert "data" in set_metafields(shopify, points("1"))  # 10 of 15
        throttled = set_metafields(shopify, points("2"))
        assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
        status = throttled["extensions"]["cost"]["throttleStatus"]
        assert (status["currentlyAvailable"], status["restoreRate"]) == (5, 1)
        now[0] += 5.0
        assert "data" in set_metafields(shopify, points("2"))
        assert shopify.metafield(CUSTOMER, "points") == "2"


class TestDiscountCodesAndStoreCredit:
    """standins/shopify_rewards.py: what Shopify answers for codes and store credit."""

    @staticmethod
    def basic(**overrides: Any) -> dict[str, Any]:
        from loyalty.shopify.discounts import discount_request
        from tests.loyalty.shopify.test_discounts import spec

        _, variables = discount_request(spec())
        return {"basicCodeDiscount": variables["basicCodeDiscount"] | overrides}

    def create(self, shopify: ShopifyAdmin, **overrides: Any) -> dict[str, Any] | None:
        """The payload, or None when the stand-in answered with errors instead."""
        from loyalty.shopify.operations import DISCOUNT_BASIC_CREATE

        answer = ask(shopify, DISCOUNT_BASIC_CREATE.document, **self.basic(**overrides))
        payload: dict[str, Any] | None = (answer.get("data") or {}).get("discountCodeBasicCreate")
        return payload

    def test_a_taken_code_is_shopifys_user_error_whatever_its_case(self) -> None:
        shopify = ShopifyAdmin()
        assert (self.create(shopify) or {}).get("userErrors") == []
        second = self.create(shopify, code="loy-7q2kd9")
        assert second == {
            "codeDiscountNode": None,
            "userErrors": [
                {
                    "field": ["basicCodeDiscount", "code"],
                    "message": "Code must be unique. Please try a different code.",
                    "code": "TAKEN",
                    "extraInfo": None,
                }
            ],
        }
        assert list(shopify.discount_codes) == ["LOY-7Q2KD9"]

    def test_what_the_model_does_not_know_is_an_error_not_a_success(self) -> None:
        shopify = ShopifyAdmin(expect_errors=True)
        assert self.create(shopify, tags=["loyalty"]) is None
        [error] = shopify.calls[-1].payload["errors"]
        assert "does not model discount inputs ['tags']" in error["message"]
        segments = {"customerSegments": {"add": ["gid://shopify/Segment/1"]}}
        assert self.create(shopify, context=segments) is None
        [error] = shopify.calls[-1].payload["errors"]
        assert "does not model a discount context" in error["message"]
        assert shopify.discount_codes == {}

    def test_an_end_before_the_start_and_a_percentage_over_one_are_refused(self) -> None:
        shopify = ShopifyAdmin()
        late = self.create(shopify, endsAt="2026-01-01T00:00:00+00:00") or {}
        assert [e["code"] for e in late["userErrors"]] == ["END_DATE_BEFORE_START_DATE"]
        gets = {"value": {"percentage": 1.5}, "items": {"all": True}}
        over = self.create(shopify, customerGets=gets) or {}
        assert [e["code"] for e in over["userErrors"]] == ["VALUE_OUTSIDE_RANGE"]
        assert shopify.discount_codes == {}

    def test_deactivating_an_unknown_discount_is_a_user_error_on_id(self) -> None:
        from loyalty.shopify.operations import DISCOUNT_DEACTIVATE

        answer = ask(
            ShopifyAdmin(), DISCOUNT_DEACTIVATE.document, id="gid://shopify/DiscountCodeNode/9"
        )
        [error] = answer["data"]["discountCodeDeactivate"]["userErrors"]
        assert error["field"] == ["id"]
