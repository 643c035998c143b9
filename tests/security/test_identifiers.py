"""How identifiers are compared (issue 12, items 7 and 13): one rule in
`loyalty.customers.identifiers`, through every surface. A Shopify id is ASCII digits (or the
gid form) within a bigint; an email is compared with only `A-Z` lower-cased."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from loyalty.customers.identifiers import (
    CustomerIdentifier,
    ascii_number,
    normalize_email,
    parse_customer_identifier,
    parse_gid,
    parse_shopify_id,
)
from loyalty.models import Customer, EarningHistoryEntry
from tests.factories import create_customer
from tests.security.state import snapshot
from tests.web.proxy.test_proxy import proxy_get, proxy_post, signed_query
from tests.web.public_api.helpers import Api, World, error_of

ARABIC_7 = "\u0667"  # ٧, ARABIC-INDIC DIGIT SEVEN: str.isdigit() and int() accept it
KELVIN = "\u212a"  # K, KELVIN SIGN: "K".lower() == "k"


class TestAsciiNumber:
    @pytest.mark.parametrize(
        ("text", "value"),
        [("0", 0), ("42", 42), ("007", 7), (str(2**63 - 1), 2**63 - 1)],
    )
    def test_ascii_digits_within_the_maximum_are_numbers(self, text: str, value: int) -> None:
        """Plain ASCII digits read as their value."""
        assert ascii_number(text) == value

    @pytest.mark.parametrize(
        "text",
        ["", " 1", "1 ", "+1", "-1", "1_000", "1.0", ARABIC_7, "１", "²", str(2**63), "9" * 5000],
    )
    def test_anything_else_is_none(self, text: str) -> None:
        """Signs, spaces, underscores, other scripts' digits, past a bigint: not a number
        (`int()` would accept most of these, and raise on 5,000 digits)."""
        assert ascii_number(text) is None

    def test_the_maximum_is_the_callers(self) -> None:
        """A page size of 101 is past a maximum of 100."""
        assert (ascii_number("100", maximum=100), ascii_number("101", maximum=100)) == (100, None)


class TestParseShopifyId:
    @pytest.mark.parametrize(
        "text", ["6789012345", " 6789012345\t", "gid://shopify/Customer/6789012345"]
    )
    def test_digits_or_the_gid_form(self, text: str) -> None:
        """The REST id, trimmed, or the GraphQL gid."""
        assert parse_shopify_id(text) == 6789012345

    @pytest.mark.parametrize(
        "text",
        [
            "0",
            ARABIC_7 + "000000001",
            "gid://shopify/Customer/",
            "gid://shopify/Order/1",
            "\u20031",
        ],
    )
    def test_no_id_otherwise(self, text: str) -> None:
        """0, Unicode digits, another gid, Unicode spaces: no id."""
        assert parse_shopify_id(text) is None


class TestParseGid:
    def test_the_global_id_of_its_kind(self) -> None:
        assert parse_gid("gid://shopify/Customer/6789012345", "Customer") == 6789012345
        assert parse_gid("gid://shopify/Shop/42", "Shop") == 42

    @pytest.mark.parametrize(
        "value",
        [
            "gid://shopify/Order/1",
            "gid://shopify/Customer/0",
            "gid://shopify/Customer/" + ARABIC_7,
            f"gid://shopify/Customer/{2**63}",
            "6789012345",
            None,
            6789012345,
        ],
    )
    def test_nothing_else(self, value: object) -> None:
        """Another kind, 0, Unicode digits, past a bigint, no prefix, not text: no id (the
        backfill once took Unicode digits from a customer's gid)."""
        assert parse_gid(value, "Customer") is None


class TestNormalizeEmail:
    def test_only_ascii_letters_are_lower_cased(self) -> None:
        """`A-Z` fold; the Kelvin sign, `İ` and `ß` stay as they are."""
        assert normalize_email(" Ann@Example.COM ") == "ann@example.com"
        assert normalize_email(f"{KELVIN}im@example.com") == f"{KELVIN}im@example.com"
        assert normalize_email("İris@example.com") == "İris@example.com"

    def test_blank_is_none(self) -> None:
        """Nothing to compare."""
        assert normalize_email("  ") is None and normalize_email(None) is None


class TestParseCustomerIdentifier:
    def test_unicode_digits_are_not_an_id(self) -> None:
        """`٧000000001` names no customer (neither an id nor an email)."""
        assert parse_customer_identifier(ARABIC_7 + "000000001").matches_nothing

    def test_an_email_keeps_its_non_ascii_letters(self) -> None:
        """The Kelvin sign is not `k`."""
        assert parse_customer_identifier(f"{KELVIN}im@Example.com") == CustomerIdentifier(
            email_key=f"{KELVIN}im@example.com"
        )


class TestPublicApi:
    async def test_the_kelvin_sign_does_not_find_k(self, api: Api, world: World) -> None:
        """GET /customers/Kim@… with a Kelvin sign: 404, not kim@example.com's record."""
        await create_customer(world.shop, shopify_customer_id=7000000001, email="kim@example.com")
        response = await api.get(f"/customers/{KELVIN}im@example.com")
        assert response.status_code == 404
        assert (await api.get("/customers/KIM@example.com")).status_code == 200

    async def test_the_kelvin_sign_cannot_award_k(self, api: Api, world: World) -> None:
        """An award to the Kelvin-sign address: 404, nothing written."""
        await create_customer(world.shop, shopify_customer_id=7000000001, email="kim@example.com")
        before = await snapshot()
        response = await api.post(
            f"/earning-rules/{world.rule.public_id}/award",
            {"customer_identifier": f"{KELVIN}im@example.com"},
        )
        assert response.status_code == 404
        assert await snapshot() == before

    async def test_a_custom_action_by_email_compares_the_same_way(
        self, api: Api, world: World
    ) -> None:
        """`customer_email` with a Kelvin sign: 404 `customer_not_found`."""
        await create_customer(world.shop, shopify_customer_id=7000000001, email="kim@example.com")
        response = await api.post(
            "/actions",
            {"action_key": "quiz_completed", "customer_email": f"{KELVIN}im@example.com"},
        )
        assert response.status_code == 404
        assert not await EarningHistoryEntry.all().exists()

    async def test_the_email_filter_compares_the_same_way(self, api: Api, world: World) -> None:
        """`filter[email]=K` (Kelvin) matches no ASCII k."""
        await create_customer(world.shop, shopify_customer_id=7000000001, email="kim@example.com")
        response = await api.get("/customers", {"filter[email]": f"{KELVIN}im"})
        assert response.status_code == 200 and response.json()["data"] == []
        response = await api.get("/customers", {"filter[email]": "KIM"})
        assert [c["id"] for c in response.json()["data"]] == ["7000000001"]

    async def test_unicode_digits_are_not_an_id(self, api: Api, world: World) -> None:
        """In a path, a body id or an award identifier: never customer 7000000001."""
        await create_customer(world.shop, shopify_customer_id=7000000001)
        assert (await api.get(f"/customers/{ARABIC_7}000000001")).status_code == 404
        response = await api.post(
            "/actions", {"action_key": "quiz_completed", "customer_id": f"{ARABIC_7}000000001"}
        )
        assert response.status_code == 400
        assert error_of(response)["source"]["pointer"] == "/customer_id"


class TestStorefrontIdentity:
    @pytest.mark.parametrize(
        "customer_id",
        [str(2**63), "9" * 40, "abc", "12a", "-5", "0", ARABIC_7 + "000000001", " 555"],
    )
    async def test_a_signed_id_that_is_not_a_shopify_id_is_400(
        self, client: httpx.AsyncClient, world: World, customer_id: str
    ) -> None:
        """Signed by Shopify's secret yet no customer id: 400 `invalid_parameter` (above int64
        was a 500; Unicode digits acted as customer 7000000001; letters were anonymous)."""
        await create_customer(world.shop, shopify_customer_id=7000000001, points_balance=321)
        before = await snapshot()
        query = signed_query(world.shop.domain, customer_id)
        for response in (
            await proxy_get(client, "/customer", query),
            await proxy_post(client, f"/earning-rules/{world.rule.public_id}/award", query),
        ):
            assert response.status_code == 400, response.text
            assert error_of(response)["source"] == {"parameter": "logged_in_customer_id"}
        assert await snapshot() == before

    async def test_an_empty_id_is_a_visitor(self, client: httpx.AsyncClient, world: World) -> None:
        """Shopify sends `logged_in_customer_id=` for visitors: the programme, anonymously."""
        response = await proxy_get(client, "/customer", signed_query(world.shop.domain, None))
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["signed_in"] is False

    async def test_a_valid_id_still_acts_for_that_customer(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """The rule keeps what works: a signed ASCII id is that customer."""
        query = signed_query(world.shop.domain, world.ann.shopify_customer_id)
        response = await proxy_get(client, "/customer", query)
        assert response.status_code == 200
        assert response.json()["data"]["id"] == str(world.ann.shopify_customer_id)

    @pytest.mark.parametrize("signature", ["\u00e9t\u00e9", "\x00", "zz"])
    async def test_a_signature_that_is_not_hex_is_401(
        self, client: httpx.AsyncClient, world: World, signature: str
    ) -> None:
        """shopify_app compared a non-ASCII `signature` as text (TypeError, a 500)."""
        query = signed_query(world.shop.domain, 555).rsplit("signature=", 1)[0]
        response = await client.get(f"/proxy/customer?{query}signature={quote(signature)}")
        assert response.status_code == 401
        assert await Customer.filter(shopify_customer_id=555).count() == 0
