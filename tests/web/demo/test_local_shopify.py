"""The demo's local Shopify (web/demo/shopify.py): it answers the Admin API as Shopify does,
refuses what Shopify refuses, keeps what it was sent, shows it, and the demo's own award path
reaches it end to end (a real server, the outbox and the in-process jobs)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from loyalty.crypto import SecretBox
from loyalty.models import Customer, Shop
from loyalty.settings import SHOPIFY_API_VERSION, Settings
from loyalty.shopify.operations import CUSTOMER_METAFIELDS_SET
from loyalty.shops.demo import SHOWCASE_RULE, DemoShop, seed_demo
from loyalty.shops.demo_mode import demo_settings
from tests.web.demo.conftest import base_settings, running
from web.app import create_app

GRAPHQL = f"/demo/shopify/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
ANN = "gid://shopify/Customer/7000000001"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def minted_token(shop: Shop, settings: Settings) -> str:
    assert shop.access_token_enc is not None
    return SecretBox(settings.secret_key).decrypt(shop.access_token_enc)


def as_the_app_sends(shop: Shop, token: str | None) -> dict[str, str]:
    """The headers shopify_app and loyalty.sync.deps.ShopifyRedirect put on an Admin call."""
    headers = {"X-Shopify-Shop-Domain": shop.domain, "Content-Type": "application/json"}
    if token is not None:
        headers["X-Shopify-Access-Token"] = token
    return headers


def points_write(value: str) -> dict[str, Any]:
    """The app's own metafieldsSet document (the operations registry), writing Ann's points."""
    metafield = {
        "ownerId": ANN,
        "namespace": "$app",
        "key": "points",
        "type": "number_integer",
        "value": value,
    }
    return {"query": CUSTOMER_METAFIELDS_SET.document, "variables": {"metafields": [metafield]}}


def customer_metafields(state: dict[str, Any], gid: str) -> dict[str, str]:
    customer = next(c for c in state["customers"] if c["id"] == gid)
    return {f"{m['namespace']}.{m['key']}": m["value"] for m in customer["metafields"]}


class TestAdminApi:
    async def test_answers_the_apps_write_and_keeps_it(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        """The app's metafieldsSet answers as Shopify does, and the state shows the value."""
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(seeded.shop, demo))
            answer = await http.post(GRAPHQL, json=points_write("42"), headers=headers)
            state = (await http.get("/demo/shopify/state.json")).json()

        assert answer.status_code == 200
        assert answer.json()["data"] == {"metafieldsSet": {"userErrors": []}}
        assert answer.json()["extensions"]["cost"]["requestedQueryCost"] > 0
        assert customer_metafields(state, ANN) == {"$app.points": "42"}
        emails = {c["email"] for c in state["customers"]}
        assert {c.email for c in seeded.customers} <= emails  # seeded with the shop's customers

    async def test_refuses_an_invalid_document_as_shopify_does(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        """A field the schema does not have: HTTP 200, `errors` with graphql-ruby's code and no
        `data`, and nothing written."""
        document = (
            "mutation Points($metafields: [MetafieldsSetInput!]!) {"
            " metafieldsSet(metafields: $metafields) { metafields { ownerId } } }"
        )
        body = {**points_write("42"), "query": document}
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(seeded.shop, demo))
            answer = await http.post(GRAPHQL, json=body, headers=headers)
            state = (await http.get("/demo/shopify/state.json")).json()

        assert answer.status_code == 200
        payload = answer.json()
        assert "data" not in payload
        assert [e["extensions"]["code"] for e in payload["errors"]] == ["undefinedField"]
        assert (
            payload["errors"][0]["message"] == "Field 'ownerId' doesn't exist on type 'Metafield'"
        )
        assert customer_metafields(state, ANN) == {}
        assert state["requests"] == [{"operation": "Points", "status": 200, "refused": True}]

    async def test_refuses_values_shopify_refuses(self, demo: Settings, seeded: DemoShop) -> None:
        """A valid document with a value its type refuses: Shopify's userErrors, nothing kept."""
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(seeded.shop, demo))
            answer = await http.post(GRAPHQL, json=points_write("lots"), headers=headers)
            state = (await http.get("/demo/shopify/state.json")).json()

        errors = answer.json()["data"]["metafieldsSet"]["userErrors"]
        assert [e["code"] for e in errors] == ["INVALID_VALUE"]
        assert customer_metafields(state, ANN) == {}

    async def test_a_body_that_is_not_json_is_a_400(self, demo: Settings, seeded: DemoShop) -> None:
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(seeded.shop, demo))
            answer = await http.post(GRAPHQL, content=b"{not json", headers=headers)

        assert answer.status_code == 400
        assert "errors" in answer.json()

    async def test_an_unknown_api_version_is_a_404(self, demo: Settings, seeded: DemoShop) -> None:
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(seeded.shop, demo))
            answers = [
                await http.post(
                    f"/demo/shopify/admin/api/{version}/graphql.json",
                    json=points_write("1"),
                    headers=headers,
                )
                for version in ("1999-01", "latest", SHOPIFY_API_VERSION)
            ]

        assert [a.status_code for a in answers] == [404, 404, 200]


class TestAccessToken:
    @pytest.mark.parametrize("token", [None, "", "shpat_demo_0123456789abcdef", "wrong"])
    async def test_anything_but_the_minted_token_is_a_401_as_shopify_answers(
        self, demo: Settings, seeded: DemoShop, token: str | None
    ) -> None:
        async with running(demo) as http:
            refused = await http.post(
                GRAPHQL, json=points_write("42"), headers=as_the_app_sends(seeded.shop, token)
            )
            state = (await http.get("/demo/shopify/state.json")).json()

        assert refused.status_code == 401
        assert refused.json() == {"errors": INVALID_TOKEN}
        assert customer_metafields(state, ANN) == {} and state["requests"] == []

    async def test_another_demo_shops_token_is_a_401(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        other = await seed_demo(domain="other-demo.myshopify.com", box=SecretBox(demo.secret_key))
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(other.shop, demo))
            refused = await http.post(GRAPHQL, json=points_write("42"), headers=headers)
            headers = as_the_app_sends(other.shop, minted_token(other.shop, demo))
            accepted = await http.post(GRAPHQL, json=points_write("42"), headers=headers)

        assert (refused.status_code, accepted.status_code) == (401, 200)

    async def test_seeding_again_mints_a_new_token_and_the_old_one_stops_working(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        old = minted_token(seeded.shop, demo)
        again = await seed_demo(box=SecretBox(demo.secret_key))
        async with running(demo) as http:
            stale = await http.post(
                GRAPHQL, json=points_write("1"), headers=as_the_app_sends(again.shop, old)
            )
            fresh = await http.post(
                GRAPHQL,
                json=points_write("1"),
                headers=as_the_app_sends(again.shop, minted_token(again.shop, demo)),
            )

        assert (stale.status_code, fresh.status_code) == (401, 200)


class TestPage:
    async def test_shows_the_shop_with_its_state_and_polls_it(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        """The page embeds what the local Shopify holds and names the JSON it polls; its
        script and stylesheet are served locally (no CDN)."""
        async with running(demo) as http:
            page = await http.get("/demo/shopify")
            assets = [
                await http.get(src.split('"')[0])
                for src in page.text.split('src="')[1:] + page.text.split('href="')[1:]
                if src.startswith("/demo/static/")  # static/demo/, served by the demo
            ]
            other = await http.get("/demo/shopify?shop=nope.myshopify.com")

        assert page.status_code == 200
        assert "demo.myshopify.com" in page.text
        embedded = page.text.split('<script type="application/json" id="state">')[1]
        state = json.loads(embedded.split("</script>")[0])
        assert state["shop"]["domain"] == "demo.myshopify.com"
        assert "ann.bronze@example.com" in {c["email"] for c in state["customers"]}
        assert 'data-state-url="/demo/shopify/state.json?shop=demo.myshopify.com"' in page.text
        assert "cdn." not in page.text
        assert len(assets) == 2 and all(a.status_code == 200 for a in assets)
        assert other.status_code == 404

    async def test_concurrent_requests_see_each_customer_once(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        """The page polls while the app writes: the model is seeded once per customer."""
        async with running(demo) as http:
            await asyncio.gather(*(http.get("/demo/shopify/state.json") for _ in range(5)))
            state = (await http.get("/demo/shopify/state.json")).json()

        ids = [customer["id"] for customer in state["customers"]]
        assert sorted(ids) == sorted(set(ids)) and len(ids) == len(seeded.customers)


@asynccontextmanager
async def serving(settings_for: Any) -> AsyncIterator[tuple[Settings, str]]:
    """`loyalty serve --demo` in this event loop on a free port: (settings, base URL)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings: Settings = settings_for(port)
    app = create_app(settings, manage_db=False, job_defer=0)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
        yield settings, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class TestEndToEnd:
    async def test_an_award_reaches_the_customers_metafield_within_seconds(
        self, db: str, tmp_path: Path
    ) -> None:
        """The award API → the ledger and an outbox intent → the in-process sync job → the
        app's Admin client with the demo's token → this server's local Shopify; and the seed's
        owed programme sync writes the shop metafield the same way."""

        def settings_for(port: int) -> Settings:
            return demo_settings(base_settings(db, tmp_path, port=port, outbox_sweep_interval=0.5))

        async with serving(settings_for) as (settings, base):
            seeded = await seed_demo(box=SecretBox(settings.secret_key))
            customer = seeded.showcase_customer
            gid = f"gid://shopify/Customer/{customer.shopify_customer_id}"
            async with httpx.AsyncClient(base_url=base) as http:
                awarded = await http.post(
                    f"/api/v1/earning-rules/{SHOWCASE_RULE}/award",
                    json={"customer_identifier": str(customer.shopify_customer_id)},
                    headers={"Authorization": seeded.api_key.secret},
                )
                assert awarded.status_code == 201, awarded.text
                balance = (await Customer.get(id=customer.id)).points_balance
                deadline = time.monotonic() + 10
                while True:
                    state = (await http.get("/demo/shopify/state.json")).json()
                    points = customer_metafields(state, gid).get("$app.points")
                    if points == str(balance) and state["shop"]["metafields"]:
                        break
                    assert time.monotonic() < deadline, state
                    await asyncio.sleep(0.1)

        assert balance == customer.points_balance + 100
        programme = json.loads(state["shop"]["metafields"][0]["value"])
        ways = {way["id"] for way in programme["points_program"]["ways_to_earn"]}
        assert SHOWCASE_RULE in ways
        assert not any(request["refused"] for request in state["requests"])


class TestTheStorefrontReadsIt:
    async def test_the_demo_storefront_renders_what_the_local_shopify_holds(
        self, demo: Settings, seeded: DemoShop
    ) -> None:
        """The storefront's Liquid reads a customer's metafields from the local Shopify once it
        holds them (here a value the database does not have, to tell them apart); a customer it
        holds nothing for yet is rendered from the database, as the sync would write it."""
        async with running(demo) as http:
            headers = as_the_app_sends(seeded.shop, minted_token(seeded.shop, demo))
            written = await http.post(GRAPHQL, json=points_write("42"), headers=headers)
            ann = await http.get("/demo/storefront", params={"as": 7000000001})
            sam = await http.get("/demo/storefront", params={"as": 7000000002})

        assert written.status_code == 200, written.text
        assert (
            await Customer.get(shop=seeded.shop, shopify_customer_id=7000000001)
        ).points_balance == 120
        assert 'data-lw-field="points_balance">42<' in ann.text
        assert 'data-lw-field="points_balance">800<' in sam.text
