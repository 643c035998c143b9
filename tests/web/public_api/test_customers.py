"""`/api/v1/customers…`: list, enroll, fetch, update, birthday and anniversary."""

from __future__ import annotations

import asyncio

import pytest

from loyalty.models import Activity, ActorType, Customer, OutboxIntent
from tests.factories import create_customer
from tests.web.public_api.helpers import Api, World, error_of

SEED_ATTRIBUTES = {
    "shopify_customer_id",
    "email",
    "first_name",
    "last_name",
    "current_points",
    "lifetime_points",
    "redeemed_points",
    "loyalty_status",
    "date_of_birth",
    "referral_url",
    "referral_code",
    "vip_tier",
    "points_expire_at",
    "created_at",
    "updated_at",
}


class TestListCustomers:
    async def test_lists_the_shops_customers_with_seed_attributes_and_meta(
        self, api: Api, world: World
    ) -> None:
        """Each customer carries the seed's attributes, its id is the Shopify id, meta counts."""
        response = await api.get("/customers")
        assert response.status_code == 200
        body = response.json()
        assert body["meta"] == {"total": 2, "page": 1, "per_page": 20, "total_pages": 1}
        first = body["data"][0]
        assert first["type"] == "customer"
        assert SEED_ATTRIBUTES <= set(first["attributes"])
        assert first["id"] == first["attributes"]["shopify_customer_id"]
        bob = next(c for c in body["data"] if c["id"] == "6789012346")["attributes"]
        assert (bob["current_points"], bob["lifetime_points"]) == (1200, 1200)
        assert bob["vip_tier"]["name"] == "Gold" and bob["vip_tier"]["points_multiplier"] == 1.5

    async def test_default_order_is_newest_first(self, api: Api, world: World) -> None:
        """Without `sort`, `-created_at`: the last enrolled comes first."""
        ids = [c["id"] for c in (await api.get("/customers")).json()["data"]]
        assert ids == ["6789012346", "6789012345"]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("points", ["6789012345", "6789012346"]),
            ("-points", ["6789012346", "6789012345"]),
            ("lifetime_points", ["6789012345", "6789012346"]),
            ("-redeemed_points", ["6789012346", "6789012345"]),
            ("created_at", ["6789012345", "6789012346"]),
        ],
    )
    async def test_sorts_by_each_documented_field(
        self, api: Api, world: World, sort: str, expected: list[str]
    ) -> None:
        """`sort=field` ascending, `sort=-field` descending (ties broken by id)."""
        await Customer.filter(id=world.bob.id).update(redeemed_points=5)
        response = await api.get("/customers", {"sort": sort})
        assert [c["id"] for c in response.json()["data"]] == expected

    async def test_an_unknown_sort_field_is_400_naming_the_parameter(
        self, api: Api, world: World
    ) -> None:
        """A bad sort field answers 400 with `source.parameter` = sort."""
        response = await api.get("/customers", {"sort": "-email"})
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "invalid_parameter"
        assert error["source"] == {"parameter": "sort"}

    async def test_filters_by_partial_email_case_insensitively(
        self, api: Api, world: World
    ) -> None:
        """`filter[email]` matches a part of the email, whatever its case."""
        response = await api.get("/customers", {"filter[email]": "ANN@"})
        assert [c["id"] for c in response.json()["data"]] == ["6789012345"]
        assert response.json()["meta"]["total"] == 1

    async def test_filters_by_loyalty_status(self, api: Api, world: World) -> None:
        """`filter[loyalty_status]` is member or excluded; anything else is a 400."""
        await Customer.filter(id=world.ann.id).update(is_excluded=True, excluded_by="staff")
        excluded = await api.get("/customers", {"filter[loyalty_status]": "excluded"})
        members = await api.get("/customers", {"filter[loyalty_status]": "member"})
        bad = await api.get("/customers", {"filter[loyalty_status]": "vip"})
        assert [c["id"] for c in excluded.json()["data"]] == ["6789012345"]
        assert excluded.json()["data"][0]["attributes"]["loyalty_status"] == "excluded"
        assert [c["id"] for c in members.json()["data"]] == ["6789012346"]
        assert bad.status_code == 400
        assert error_of(bad)["source"] == {"parameter": "filter[loyalty_status]"}

    async def test_an_unknown_filter_is_400(self, api: Api, world: World) -> None:
        """A filter the list does not take is refused, not silently ignored."""
        response = await api.get("/customers", {"filter[name]": "Ann"})
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": "filter[name]"}

    async def test_pages_through_with_meta(self, api: Api, world: World) -> None:
        """page[size]=1: two pages, each with one customer, meta says where we are."""
        second = await api.get("/customers", {"page[size]": "1", "page[number]": "2"})
        assert second.status_code == 200
        assert second.json()["meta"] == {"total": 2, "page": 2, "per_page": 1, "total_pages": 2}
        assert [c["id"] for c in second.json()["data"]] == ["6789012345"]

    async def test_a_page_past_the_end_is_empty_with_correct_meta(
        self, api: Api, world: World
    ) -> None:
        """Past the last page: 200, no data, and meta still counts everything."""
        response = await api.get("/customers", {"page[number]": "9"})
        assert response.status_code == 200
        assert response.json() == {
            "data": [],
            "meta": {"total": 2, "page": 9, "per_page": 20, "total_pages": 1},
        }

    @pytest.mark.parametrize(
        ("parameter", "value"),
        [
            ("page[size]", "0"),
            ("page[size]", "101"),
            ("page[size]", "ten"),
            ("page[number]", "0"),
            ("page[number]", "-1"),
        ],
    )
    async def test_bad_page_parameters_are_400_naming_the_parameter(
        self, api: Api, world: World, parameter: str, value: str
    ) -> None:
        """page[size] 0 or 101 (max 100), or a page number below 1: 400 with source.parameter."""
        response = await api.get("/customers", {parameter: value})
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "invalid_parameter"
        assert error["source"] == {"parameter": parameter}

    async def test_page_size_100_is_the_maximum_allowed(self, api: Api, world: World) -> None:
        """100 per page is fine."""
        response = await api.get("/customers", {"page[size]": "100"})
        assert response.status_code == 200
        assert response.json()["meta"]["per_page"] == 100

    async def test_another_shops_customers_are_not_listed(self, api: Api, world: World) -> None:
        """Scoped to the key's shop."""
        from tests.factories import create_shop

        other = await create_shop()
        await create_customer(other, shopify_customer_id=1, email="ann@elsewhere.com")
        response = await api.get("/customers", {"filter[email]": "ann"})
        assert [c["id"] for c in response.json()["data"]] == ["6789012345"]

    async def test_shows_when_the_oldest_unspent_points_expire(
        self, api: Api, world: World
    ) -> None:
        """`points_expire_at` is the earliest expiry of a lot that still holds points."""
        response = await api.post(
            "/customers/6789012345/points", {"adjustment": 10, "note": "welcome"}
        )
        assert response.status_code == 200
        ann = (await api.get("/customers/6789012345")).json()["data"]["attributes"]
        assert ann["points_expire_at"] is not None and ann["points_expire_at"].endswith("Z")
        bob = (await api.get("/customers/6789012346")).json()["data"]["attributes"]
        assert bob["points_expire_at"] is None


class TestGetCustomer:
    @pytest.mark.parametrize(
        "identifier", ["6789012345", "ann@example.com", "ANN@EXAMPLE.COM", "Ann%40Example.com"]
    )
    async def test_finds_by_shopify_id_or_email(
        self, api: Api, world: World, identifier: str
    ) -> None:
        """The identifier is the Shopify customer id or the email, case-insensitive."""
        response = await api.get(f"/customers/{identifier}")
        assert response.status_code == 200
        assert response.json()["data"]["id"] == "6789012345"
        assert response.json()["data"]["attributes"]["vip_tier"]["id"] == world.bronze.public_id

    @pytest.mark.parametrize("identifier", ["1", "nobody@example.com", "not-an-id"])
    async def test_unknown_customer_is_404(self, api: Api, world: World, identifier: str) -> None:
        """Unknown ids and emails (and things that are neither): 404 customer_not_found."""
        response = await api.get(f"/customers/{identifier}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "customer_not_found"

    async def test_another_shops_customer_is_404(self, api: Api, world: World) -> None:
        """Another shop's customer does not exist for this key."""
        from tests.factories import create_shop

        other = await create_shop()
        await create_customer(other, shopify_customer_id=555)
        assert (await api.get("/customers/555")).status_code == 404

    async def test_exclude_vip_leaves_the_tier_out(self, api: Api, world: World) -> None:
        """`exclude_vip=true`: `vip_tier` is null."""
        response = await api.get("/customers/6789012345", {"exclude_vip": "true"})
        assert response.json()["data"]["attributes"]["vip_tier"] is None


class TestEnrollCustomer:
    async def test_a_new_customer_is_201_on_the_entry_tier(self, api: Api, world: World) -> None:
        """201, zero balances, the lowest tier; an activity row and syncs owed."""
        response = await api.post(
            "/customers",
            {"shopify_customer_id": 7000000001, "email": "new@example.com", "first_name": "Nia"},
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["id"] == "7000000001"
        attributes = data["attributes"]
        assert attributes["email"] == "new@example.com" and attributes["first_name"] == "Nia"
        assert attributes["current_points"] == 0
        assert attributes["vip_tier"]["id"] == world.bronze.public_id
        customer = await Customer.get(shop_id=world.shop.id, shopify_customer_id=7000000001)
        assert await Activity.filter(customer_id=customer.id, kind="customer_created").exists()
        assert await OutboxIntent.filter(customer_id=customer.id).exists()

    async def test_an_existing_member_is_200_and_unchanged(self, api: Api, world: World) -> None:
        """Already enrolled: 200 with the stored record; the name sent does not overwrite it."""
        response = await api.post(
            "/customers", {"shopify_customer_id": "6789012346", "first_name": "Robert"}
        )
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["first_name"] == "Ann"
        assert await Customer.filter(shop_id=world.shop.id).count() == 2

    async def test_concurrent_enrolments_create_one_member(self, api: Api, world: World) -> None:
        """Five at once: one 201, four 200, one row."""
        responses = await asyncio.gather(
            *(api.post("/customers", {"shopify_customer_id": 7000000002}) for _ in range(5))
        )
        assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
        assert await Customer.filter(shopify_customer_id=7000000002).count() == 1

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({}, "missing_field"),
            ({"shopify_customer_id": "abc"}, "invalid_field"),
            ({"shopify_customer_id": 0}, "invalid_field"),
            ({"shopify_customer_id": True}, "invalid_field"),
            ({"shopify_customer_id": 1, "email": 5}, "invalid_field"),
        ],
    )
    async def test_an_invalid_body_is_400(
        self, api: Api, world: World, body: dict[str, object], code: str
    ) -> None:
        """Missing or malformed `shopify_customer_id`: 400 pointing at the field."""
        response = await api.post("/customers", body)
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == code and error["source"]["pointer"].startswith("/")

    async def test_a_read_only_key_is_403(self, api: Api, world: World) -> None:
        """Writes need a full-access key."""
        response = await api.post("/customers", {"shopify_customer_id": 1}, key=world.read_key)
        assert response.status_code == 403
        assert error_of(response)["code"] == "read_only_api_key"


class TestUpdateCustomer:
    async def test_excluding_records_the_api_as_actor_and_owes_syncs(
        self, api: Api, world: World
    ) -> None:
        """`is_excluded: true`: excluded by the API, an activity row with the key, syncs owed."""
        response = await api.put("/customers/ann@example.com", {"is_excluded": True})
        assert response.status_code == 200
        assert response.json()["data"]["attributes"]["loyalty_status"] == "excluded"
        customer = await Customer.get(id=world.ann.id)
        assert (customer.is_excluded, customer.excluded_by) == (True, "api")
        activity = await Activity.get(customer_id=world.ann.id, kind="customer_excluded")
        assert activity.actor_type == ActorType.API_KEY and activity.actor_id.startswith("key_")
        assert await OutboxIntent.filter(customer_id=world.ann.id).exists()

    async def test_accepts_the_json_api_form_and_dates(self, api: Api, world: World) -> None:
        """`{"data":{"attributes":…}}` works; dates come back in the full-timestamp form."""
        response = await api.put(
            "/customers/6789012345",
            {"data": {"attributes": {"date_of_birth": "1990-05-17", "anniversary_date": None}}},
        )
        assert response.status_code == 200, response.text
        attributes = response.json()["data"]["attributes"]
        assert attributes["date_of_birth"] == "1990-05-17T00:00:00.000Z"
        assert attributes["anniversary_date"] is None
        assert str((await Customer.get(id=world.ann.id)).date_of_birth) == "1990-05-17"

    async def test_null_clears_a_date_and_a_timestamp_sets_one(
        self, api: Api, world: World
    ) -> None:
        """A full timestamp keeps its date; null erases."""
        await api.put("/customers/6789012345", {"anniversary_date": "2020-02-29T10:00:00.000Z"})
        assert str((await Customer.get(id=world.ann.id)).anniversary_date) == "2020-02-29"
        await api.put("/customers/6789012345", {"anniversary_date": None})
        assert (await Customer.get(id=world.ann.id)).anniversary_date is None

    async def test_a_change_to_nothing_writes_nothing(self, api: Api, world: World) -> None:
        """Including an included customer: 200, no activity, no intents."""
        response = await api.put("/customers/6789012345", {"is_excluded": False})
        assert response.status_code == 200
        assert not await Activity.filter(customer_id=world.ann.id).exists()
        assert not await OutboxIntent.filter(customer_id=world.ann.id).exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"is_excluded": "yes"},
            {"is_excluded": None},
            {"date_of_birth": "17/05/1990"},
            {"date_of_birth": "1990-02-30"},
        ],
    )
    async def test_invalid_fields_are_4xx_and_change_nothing(
        self, api: Api, world: World, body: dict[str, object]
    ) -> None:
        """Wrong types, impossible dates, null for a flag: refused, nothing written."""
        response = await api.put("/customers/6789012345", body)
        assert response.status_code in {400, 422}
        error_of(response)
        customer = await Customer.get(id=world.ann.id)
        assert (customer.is_excluded, customer.date_of_birth) == (False, None)

    async def test_unknown_customer_is_404(self, api: Api, world: World) -> None:
        """No such customer: 404."""
        response = await api.put("/customers/404404", {"is_excluded": True})
        assert response.status_code == 404


class TestGetCustomerBirthday:
    async def test_shows_the_date_of_birth(self, api: Api, world: World) -> None:
        """`customer_birthday` with the date in full-timestamp form (null when unknown)."""
        await api.put("/customers/6789012345", {"date_of_birth": "1990-05-17"})
        response = await api.get("/customers/ann@example.com/birthday")
        assert response.json()["data"] == {
            "type": "customer_birthday",
            "id": "6789012345",
            "attributes": {
                "shopify_customer_id": "6789012345",
                "email": "Ann@Example.com",
                "date_of_birth": "1990-05-17T00:00:00.000Z",
            },
        }


class TestGetCustomerAnniversary:
    async def test_shows_the_anniversary_or_null(self, api: Api, world: World) -> None:
        """`customer_anniversary`: null until known."""
        response = await api.get("/customers/6789012346/anniversary")
        assert response.json()["data"]["type"] == "customer_anniversary"
        assert response.json()["data"]["attributes"]["anniversary_date"] is None
        assert (await api.get("/customers/1/anniversary")).status_code == 404
