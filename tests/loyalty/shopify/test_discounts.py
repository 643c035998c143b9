"""A redemption's discount code in Shopify (loyalty/shopify/discounts.py), through the real
AdminApi against the schema-validating stand-in (mocked only at HTTP): each kind is created
restricted to its customer, a second run finds the code instead of making another, Shopify's
refusals are permanent answers, its outages raise for the job to retry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from loyalty.models import Shop
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.discounts import (
    CombinesWith,
    DiscountCreated,
    DiscountKind,
    DiscountRefused,
    DiscountSpec,
    create_discount_code,
    deactivate_discount_code,
    discount_request,
)
from loyalty.shopify.tokens import ShopifyUnavailableError, TokenProvider
from standins.shopify_admin import ShopifyAdmin, customer_node
from tests.loyalty.shopify.test_shopify_tokens import (
    BOX,
    DOMAIN,
    GRAPHQL_URL,
    SHOPIFY,
    THROTTLED,
    Sleeps,
    connected_shop,
)

CUSTOMER = "gid://shopify/Customer/501"
OTHER_CUSTOMER = "gid://shopify/Customer/502"
VARIANT = "gid://shopify/ProductVariant/9001"
COLLECTION = "gid://shopify/Collection/77"
STARTS = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def spec(kind: DiscountKind = DiscountKind.FIXED_AMOUNT, **overrides: Any) -> DiscountSpec:
    """A valid spec of the kind (each kind's own defaults), with these fields changed."""
    kind = overrides.pop("kind", kind)
    values: dict[str, Any] = {
        "code": "LOY-7Q2KD9",
        "title": "$5 off (loyalty reward)",
        "kind": kind,
        "customer_gid": CUSTOMER,
        "value": Decimal("5.00"),
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(days=30),
    }
    if kind is DiscountKind.PERCENTAGE:
        values["value"] = Decimal("12.5")
    if kind is DiscountKind.FREE_SHIPPING:
        values["value"] = Decimal(0)
    if kind is DiscountKind.FREE_PRODUCT:
        values |= {
            "value": Decimal(0),
            "free_variant_gid": VARIANT,
            "collection_gids": (COLLECTION,),
        }
    return DiscountSpec(**(values | overrides))


@pytest.fixture
async def admin() -> AsyncIterator[AdminApi]:
    async with httpx.AsyncClient() as http:
        tokens = TokenProvider(shopify=SHOPIFY, http=http, box=BOX)
        yield AdminApi(shopify=SHOPIFY, http=http, tokens=tokens, sleep=Sleeps())


@pytest.fixture
def shopify() -> ShopifyAdmin:
    return ShopifyAdmin(customers=[customer_node(501), customer_node(502)])


@pytest.fixture
async def shop_id(db: str) -> int:
    return (await connected_shop()).id


async def create(
    admin: AdminApi, shopify: ShopifyAdmin, the_spec: DiscountSpec
) -> DiscountCreated | DiscountRefused:
    """Create through AdminApi for the test's one shop (the token-shop domain)."""
    shop = await Shop.get(domain=DOMAIN)
    with respx.mock(assert_all_called=True) as mock:
        mock.post(GRAPHQL_URL).mock(side_effect=shopify)
        return await create_discount_code(admin, shop.id, the_spec)


class TestCreate:
    @pytest.mark.parametrize("kind", list(DiscountKind))
    async def test_each_kind_is_created_for_its_customer_only(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin, kind: DiscountKind
    ) -> None:
        """One use, once per customer, restricted to the customer (`context`, not the
        deprecated `customerSelection`), ending when the reward's code expires."""
        result = await create(admin, shopify, spec(kind))
        assert isinstance(result, DiscountCreated) and not result.already_existed
        created = shopify.discount_codes["LOY-7Q2KD9"]
        assert result.discount_gid == created.id
        assert created.customers == [CUSTOMER]
        sent = created.input
        assert (sent["usageLimit"], sent["appliesOncePerCustomer"]) == (1, True)
        assert sent["endsAt"] == "2027-01-03T12:00:00+00:00"
        assert "customerSelection" not in sent
        # Created at once: one call, no look-up first (the look-up is for a code TAKEN).
        operation, _ = discount_request(spec(kind))
        assert [c.operation for c in shopify.calls] == [operation.name]
        assert shopify.rejected == []

    async def test_the_value_of_each_kind(self, shop_id: int, admin: AdminApi) -> None:
        """A fixed amount as money off the order, a percentage as Shopify's fraction, a free
        product as one unit of the variant at 100 % when something qualifying is bought."""
        fixed = ShopifyAdmin()
        await create(admin, fixed, spec(minimum_subtotal=Decimal("40.00")))
        basic = fixed.discount_codes["LOY-7Q2KD9"]
        assert basic.typename == "DiscountCodeBasic"
        assert basic.input["customerGets"] == {
            "value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
            "items": {"all": True},
        }
        assert basic.input["minimumRequirement"] == {
            "subtotal": {"greaterThanOrEqualToSubtotal": "40.00"}
        }
        percent = ShopifyAdmin()
        await create(
            admin, percent, spec(DiscountKind.PERCENTAGE, product_gids=("gid://shopify/Product/3",))
        )
        gets = percent.discount_codes["LOY-7Q2KD9"].input["customerGets"]
        assert gets == {
            "value": {"percentage": 0.125},
            "items": {"products": {"productsToAdd": ["gid://shopify/Product/3"]}},
        }
        free = ShopifyAdmin()
        await create(admin, free, spec(DiscountKind.FREE_PRODUCT))
        bxgy = free.discount_codes["LOY-7Q2KD9"]
        assert bxgy.typename == "DiscountCodeBxgy"
        assert bxgy.input["customerGets"]["items"] == {
            "products": {"productVariantsToAdd": [VARIANT]}
        }
        assert bxgy.input["customerGets"]["value"] == {
            "discountOnQuantity": {"quantity": "1", "effect": {"percentage": 1.0}}
        }
        buys = bxgy.input["customerBuys"]
        assert (buys["value"], buys["items"]) == (
            {"amount": "0.01"},
            {"collections": {"add": [COLLECTION]}},
        )
        shipping = ShopifyAdmin()
        await create(admin, shipping, spec(DiscountKind.FREE_SHIPPING))
        assert shipping.discount_codes["LOY-7Q2KD9"].typename == "DiscountCodeFreeShipping"

    def test_amounts_are_sent_as_plain_digits(self) -> None:
        """A Decimal in exponent form (what arithmetic can produce) is sent as digits."""
        _, variables = discount_request(spec(value=Decimal("1E+1")))
        amount = variables["basicCodeDiscount"]["customerGets"]["value"]["discountAmount"]
        assert amount["amount"] == "10"

    async def test_combines_with_is_sent_as_asked(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        await create(admin, shopify, spec(combines_with=CombinesWith(order=True, shipping=True)))
        assert shopify.discount_codes["LOY-7Q2KD9"].input["combinesWith"] == {
            "orderDiscounts": True,
            "productDiscounts": False,
            "shippingDiscounts": True,
        }


class TestTwice:
    async def test_a_second_run_finds_the_code_and_creates_nothing(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """The second create is refused as TAKEN (Shopify refuses a code that exists, as the
        stand-in does); the look-up that follows finds the first run's discount, ours."""
        first = await create(admin, shopify, spec())
        second = await create(admin, shopify, spec())
        assert isinstance(first, DiscountCreated) and isinstance(second, DiscountCreated)
        assert second == DiscountCreated(first.discount_gid, already_existed=True)
        assert len(shopify.discount_codes) == 1
        assert [c.operation for c in shopify.calls] == [
            "LoyaltyDiscountBasicCreate",
            "LoyaltyDiscountBasicCreate",
            "LoyaltyDiscountByCode",
        ]
        taken = shopify.calls[1].payload["data"]["discountCodeBasicCreate"]
        assert [e["code"] for e in taken["userErrors"]] == ["TAKEN"]

    async def test_the_lookup_is_case_insensitive_as_shopifys_codes_are(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        first = await create(admin, shopify, spec())
        again = await create(admin, shopify, spec(code="loy-7q2kd9"))
        assert isinstance(first, DiscountCreated)
        assert again == DiscountCreated(first.discount_gid, already_existed=True)

    async def test_taken_by_a_concurrent_run_is_recognised_by_looking_again(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """Another run of the same redemption creates the code just before ours: our create is
        TAKEN, the look-up finds the other run's discount, and it is ours."""
        calls = 0

        def racing(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls == 1:  # just before our create, the other run creates it
                shopify.answer(_create_body(spec()))
            return shopify(request)

        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=racing)
            result = await create_discount_code(admin, shop_id, spec())
        assert isinstance(result, DiscountCreated) and result.already_existed
        assert len(shopify.discount_codes) == 1
        taken = [c for c in shopify.calls if c.operation == "LoyaltyDiscountBasicCreate"][-1]
        assert taken.payload["data"]["discountCodeBasicCreate"]["userErrors"][0]["code"] == "TAKEN"

    async def test_a_code_used_by_another_discount_is_refused_not_adopted(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """Decided: a code of ours found restricted to another customer (a merchant's code, or
        another redemption's) is not ours: DiscountRefused with TAKEN, nothing created. The
        caller cancels the redemption (or retries with a new code)."""
        await create(admin, shopify, spec(customer_gid=OTHER_CUSTOMER))
        refused = await create(admin, shopify, spec())
        assert isinstance(refused, DiscountRefused) and refused.codes == ("TAKEN",)
        assert shopify.discount_codes["LOY-7Q2KD9"].customers == [OTHER_CUSTOMER]


class TestRefusals:
    async def test_shopifys_user_errors_are_a_permanent_refusal(
        self, shop_id: int, admin: AdminApi
    ) -> None:
        """A customer that no longer exists: Shopify's userError, returned as DiscountRefused."""
        shopify = ShopifyAdmin()
        shopify.gone.add(CUSTOMER)
        refused = await create(admin, shopify, spec())
        assert isinstance(refused, DiscountRefused)
        assert refused.codes == ("INVALID",) and "does not exist" in refused.message
        assert shopify.discount_codes == {}

    @pytest.mark.parametrize(
        ("overrides", "problem"),
        [
            ({"value": Decimal(0)}, "positive"),
            ({"kind": DiscountKind.PERCENTAGE, "value": Decimal(101)}, "percentage"),
            ({"starts_at": datetime(2026, 12, 4)}, "timezone"),
            ({"ends_at": STARTS}, "after"),
            (
                {"collection_gids": (COLLECTION,), "product_gids": ("gid://shopify/Product/1",)},
                "not both",
            ),
            ({"customer_gid": "501"}, "gid"),
            ({"kind": DiscountKind.FREE_PRODUCT, "free_variant_gid": None}, "free_variant_gid"),
            ({"kind": DiscountKind.FREE_PRODUCT, "collection_gids": ()}, "qualify"),
        ],
    )
    def test_a_spec_shopify_could_never_accept_fails_when_built(
        self, overrides: dict[str, Any], problem: str
    ) -> None:
        with pytest.raises(ValueError, match=problem):
            spec(**overrides)

    async def test_throttled_and_5xx_raise_for_the_job_to_retry(
        self, shop_id: int, admin: AdminApi
    ) -> None:
        """Shopify down or throttled beyond AdminApi's retries: the exception, nothing made."""
        shopify = ShopifyAdmin()
        shopify.answer_next(*[httpx.Response(503)] * 6)
        with pytest.raises(ShopifyUnavailableError):
            await create(admin, shopify, spec())
        throttled = ShopifyAdmin()
        throttled.answer_next(*[httpx.Response(200, json=THROTTLED)] * 6)
        with pytest.raises(ShopifyUnavailableError):
            await create(admin, throttled, spec())
        assert shopify.discount_codes == throttled.discount_codes == {}

    async def test_a_5xx_on_create_then_a_rerun_makes_one_code(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        """The create reached Shopify but its answer was lost (the job dies): the re-run finds
        the code. Here: the create commits, then every answer is a 503."""
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=lose_answers_after(shopify, "Create"))
            with pytest.raises(ShopifyUnavailableError):
                await create_discount_code(admin, shop_id, spec())
        assert len(shopify.discount_codes) == 1
        again = await create(admin, shopify, spec())
        assert isinstance(again, DiscountCreated) and again.already_existed
        assert len(shopify.discount_codes) == 1


class TestDeactivate:
    async def test_deactivates_and_twice_is_harmless(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        created = await create(admin, shopify, spec())
        assert isinstance(created, DiscountCreated)
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await deactivate_discount_code(admin, shop_id, created.discount_gid)
            await deactivate_discount_code(admin, shop_id, created.discount_gid)
        assert shopify.discount_codes["LOY-7Q2KD9"].status == "EXPIRED"

    async def test_a_discount_that_is_gone_counts_as_deactivated(
        self, shop_id: int, admin: AdminApi, shopify: ShopifyAdmin
    ) -> None:
        with respx.mock(assert_all_called=True) as mock:
            mock.post(GRAPHQL_URL).mock(side_effect=shopify)
            await deactivate_discount_code(admin, shop_id, "gid://shopify/DiscountCodeNode/1")
        assert shopify.rejected == []


def _create_body(the_spec: DiscountSpec) -> dict[str, Any]:
    operation, variables = discount_request(the_spec)
    return {"query": operation.document, "variables": variables}


def lose_answers_after(shopify: ShopifyAdmin, name_part: str) -> Any:
    """Answer normally until an operation whose name contains `name_part` has run, then 503."""
    lost = False

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal lost
        if lost:
            return httpx.Response(503)
        response = shopify(request)
        lost = name_part in (shopify.calls[-1].operation or "")
        return httpx.Response(503) if lost else response

    return answer
