"""Input no database can hold, refused in one place per input kind (issue 12, items 4, 5, 6):
NUL and lone surrogates in JSON bodies, query and path parameters (400 naming the field or the
parameter), and numbers no JSON reader should accept. Every refusal writes nothing, checked
against a snapshot of every table, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Mount, Route

from loyalty.clock import utcnow
from loyalty.models import Customer, Shop
from loyalty.settings import Settings
from tests.security.state import snapshot
from tests.tokens import id_token
from tests.web.admin_client import Admin
from tests.web.proxy.test_proxy import signed_query
from tests.web.public_api.helpers import Api, World, error_of
from web.app import create_app
from web.http.params import ScreenedParams

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

NUL = "\x00"
SURROGATE = "\ud800"


def as_json(body: Any) -> bytes:
    """JSON with every non-ASCII character escaped (httpx's `json=` cannot encode a surrogate)."""
    return json.dumps(body).encode()


JSON = {"Content-Type": "application/json"}


def quiz(**fields: Any) -> dict[str, Any]:
    return {"action_key": "quiz_completed", "customer_id": 6789012345, **fields}


# (method, path, body, pointer): a NUL or lone surrogate in each kind of field a write reads.
PUBLIC_WRITES = [
    (
        "POST",
        "/earning-rules/{rule}/award",
        {"customer_identifier": "ann@example.com" + NUL},
        "/customer_identifier",
    ),
    (
        "POST",
        "/earning-rules/{rule}/award",
        {"customer_identifier": SURROGATE + "@x.io"},
        "/customer_identifier",
    ),
    ("POST", "/customers/6789012345/points", {"adjustment": 5, "note": "thanks" + NUL}, "/note"),
    ("POST", "/customers/6789012345/points", {"adjustment": 5, "note": SURROGATE}, "/note"),
    (
        "POST",
        "/customers",
        {"shopify_customer_id": 42, "email": "x" + NUL + "@example.com"},
        "/email",
    ),
    ("POST", "/actions", quiz(metadata={"source": "quiz" + NUL}), "/metadata/source"),
    ("POST", "/actions", quiz(metadata={"answers": ["a", SURROGATE]}), "/metadata/answers/1"),
    ("POST", "/actions", quiz(metadata={"k" + NUL: 1}), "/metadata/k\ufffd"),
    (
        "POST",
        "/actions",
        {"action_key": "quiz_completed", "customer_email": "a" + NUL + "@x.io"},
        "/customer_email",
    ),
    (
        "PUT",
        "/customers/6789012345",
        {"data": {"attributes": {"date_of_birth": "1990" + NUL}}},
        "/data/attributes/date_of_birth",
    ),
]


class TestPublicApiBodies:
    @pytest.mark.parametrize(("method", "path", "body", "pointer"), PUBLIC_WRITES)
    async def test_nul_or_a_lone_surrogate_in_a_field_is_400(
        self, api: Api, world: World, method: str, path: str, body: Any, pointer: str
    ) -> None:
        """400 `invalid_field` pointing at the field, and nothing written (PostgreSQL answered
        500; SQLite stored the NUL)."""
        before = await snapshot()
        response = await api.client.request(
            method,
            "/api/v1" + path.format(rule=world.rule.public_id),
            content=as_json(body),
            headers={"Authorization": world.key, **JSON},
        )
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert (error["code"], error["source"]["pointer"]) == ("invalid_field", pointer)
        assert await snapshot() == before

    async def test_an_idempotent_action_with_lone_surrogate_metadata_is_400(
        self, api: Api, world: World
    ) -> None:
        """Item 6: with an Idempotency-Key the request was fingerprinted as UTF-8 (a 500)."""
        before = await snapshot()
        response = await api.client.post(
            "/api/v1/actions",
            content=as_json(quiz(metadata={"note": "a" + SURROGATE + "b"})),
            headers={"Authorization": world.key, "Idempotency-Key": "retry-1", **JSON},
        )
        assert response.status_code == 400
        assert error_of(response)["source"]["pointer"] == "/metadata/note"
        assert await snapshot() == before

    @pytest.mark.parametrize(
        "key", [b"key\x00", b"\xe9t\xe9", b"key \x01"], ids=["NUL", "latin-1", "control"]
    )
    async def test_an_idempotency_key_header_we_would_store_must_be_printable(
        self, api: Api, world: World, key: bytes
    ) -> None:
        """The Idempotency-Key is stored: anything but printable ASCII is 400 `invalid_header`."""
        before = await snapshot()
        response = await api.post("/actions", quiz(), headers={"Idempotency-Key": key})  # type: ignore[dict-item]
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_header"
        assert await snapshot() == before


# Raw bodies: Python's json accepts what JSON does not, and fails on what it cannot convert.
NUMBERS = {
    "huge integer": b'{"adjustment": ' + b"1" * 5000 + b"}",
    "long integer": b'{"adjustment": ' + b"1" * 101 + b"}",
    "NaN": b'{"adjustment": NaN}',
    "Infinity": b'{"adjustment": Infinity}',
    "-Infinity": b'{"adjustment": -Infinity}',
    "overflowing float": b'{"adjustment": 1e400}',
    "deep nesting": b'{"adjustment": 5, "note": ' + b"[" * 65 + b"]" * 65 + b"}",
    "nesting past the parser": b"[" * 30_000 + b"]" * 30_000,
}


class TestNumbersAndNesting:
    @pytest.mark.parametrize("body", NUMBERS.values(), ids=NUMBERS.keys())
    @pytest.mark.parametrize("surface", ["/api/v1", "/app/api"])
    async def test_they_are_invalid_json(
        self, admin: Admin, world: World, body: bytes, surface: str
    ) -> None:
        """400 `invalid_json` on the public and the admin API, which share the reader (a
        4,300+-digit literal was a 500; NaN reached the validators)."""
        credential = world.key if surface == "/api/v1" else f"Bearer {id_token(admin.shop_name)}"
        before = await snapshot()
        response = await admin.client.post(
            f"{surface}/customers/{world.ann.shopify_customer_id}/points",
            content=body,
            headers={"Authorization": credential, **JSON},
        )
        assert response.status_code == 400, response.text
        assert error_of(response)["code"] == "invalid_json"
        assert await snapshot() == before

    async def test_an_action_with_metadata_nested_65_deep_is_400(
        self, api: Api, world: World
    ) -> None:
        """Metadata is stored and fingerprinted as given: at most 64 levels."""
        nested: Any = "leaf"
        for _ in range(64):
            nested = {"n": nested}
        response = await api.post("/actions", quiz(metadata=nested))
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_json"


ADMIN_WRITES = [
    (
        "POST",
        "/earning-rules",
        {"name": "Quiz" + NUL, "action": "quiz", "category": "social", "points": 5},
        "/name",
    ),
    (
        "POST",
        "/vip-tiers",
        {"name": SURROGATE, "points_required": 10, "points_multiplier": 1.5},
        "/name",
    ),
    ("POST", "/api-keys", {"name": "zapier" + NUL}, "/name"),
    ("PATCH", "/settings", {"exclusion_tag": "no" + NUL}, "/exclusion_tag"),
    ("POST", "/customers/6789012345/points", {"adjustment": 5, "note": NUL}, "/note"),
]


class TestAdminApi:
    @pytest.mark.parametrize(("method", "path", "body", "pointer"), ADMIN_WRITES)
    async def test_nul_or_a_lone_surrogate_in_a_field_is_400(
        self, admin: Admin, world: World, method: str, path: str, body: Any, pointer: str
    ) -> None:
        """The embedded admin's writes: 400 pointing at the field, nothing written."""
        before = await snapshot()
        response = await admin.client.request(
            method,
            f"/app/api{path}",
            content=as_json(body),
            headers={"Authorization": f"Bearer {id_token(admin.shop_name)}", **JSON},
        )
        assert response.status_code == 400, response.text
        assert error_of(response)["source"]["pointer"] == pointer
        assert await snapshot() == before

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/customers?search=%00"),
            ("GET", "/customers?search=ann%00"),
            ("GET", "/customers?page%5Bnumber%5D=1%00"),
            ("GET", "/earning-rules?filter%5Bcategory%5D=%00"),
            ("GET", "/vip-tiers/preview?name=%00"),
            ("GET", "/customers/%00"),
            ("POST", "/earning-rules/rule_%00/activate"),
            ("POST", "/api-keys/key%00/revoke"),
            ("GET", "/integrations/%00"),
        ],
    )
    async def test_nul_in_a_query_or_path_parameter_is_400(
        self, admin: Admin, world: World, method: str, path: str
    ) -> None:
        """400 `invalid_parameter` naming it, before the handler runs (admin search was a 500
        on PostgreSQL)."""
        before = await snapshot()
        response = await admin.request(method, path)
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == "invalid_parameter" and "parameter" in error["source"]
        assert await snapshot() == before


class TestQueryAndPathParameters:
    @pytest.mark.parametrize(
        ("path", "parameter"),
        [
            ("/customers?filter%5Bemail%5D=%00", "filter[email]"),
            ("/customers?filter%5Bemail%5D=ann%00", "filter[email]"),
            ("/customers?page%5Bsize%5D=%00", "page[size]"),
            ("/customers?sort=%00", "sort"),
            ("/customers?%00=1", "\ufffd"),
            ("/customers/6789012345?exclude_vip=%00", "exclude_vip"),
            ("/customers/%00", "identifier"),
            ("/customers/ann%00@example.com/earning-history", "identifier"),
            ("/earning-rules/%00", "rule_id"),
            ("/vip-tiers/tier_%00", "tier_id"),
        ],
    )
    async def test_nul_is_400_naming_the_parameter(
        self, api: Api, world: World, path: str, parameter: str
    ) -> None:
        """`filter[email]=%00` listed every customer on SQLite (LIKE stops at NUL) and was a 500
        on PostgreSQL; path ids were 500s on PostgreSQL."""
        response = await api.get(path)
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == "invalid_parameter"
        assert error["source"] == {"parameter": parameter}

    async def test_a_surrogate_sent_as_utf8_bytes_arrives_replaced_and_matches_nothing(
        self, api: Api, world: World
    ) -> None:
        """`%ED%A0%80` (an encoded surrogate) is not UTF-8: the server decodes it as U+FFFD."""
        response = await api.get(
            "/customers?filter%5Bemail%5D=" + quote(SURROGATE, errors="surrogatepass")
        )
        assert response.status_code == 200
        assert response.json()["data"] == []

    async def test_a_write_with_nul_in_its_path_writes_nothing(
        self, api: Api, world: World
    ) -> None:
        """An award with a NUL rule id: 400, nothing written."""
        before = await snapshot()
        response = await api.post(
            "/earning-rules/rule%00/award", {"customer_identifier": "6789012345"}
        )
        assert response.status_code == 400
        assert await snapshot() == before


class TestStorefrontAndPages:
    async def test_a_signed_proxy_award_with_nul_in_the_rule_id_is_400(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """The storefront's path parameters are screened too, after the signature."""
        before = await snapshot()
        query = signed_query(world.shop.domain, world.ann.shopify_customer_id)
        response = await client.post(f"/proxy/earning-rules/rule%00/award?{query}")
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": "rule_id"}
        assert await snapshot() == before

    async def test_a_refused_claim_by_a_new_shopper_writes_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """A shopper the app has not seen claims an unknown rule: 404 and no customer row (the
        storefront enrolled them first); a real claim still enrols and awards them."""
        query = signed_query(world.shop.domain, 4242)
        before = await snapshot()
        response = await client.post(f"/proxy/earning-rules/rule_unknown/award?{query}")
        assert response.status_code == 404
        assert await snapshot() == before
        response = await client.post(f"/proxy/earning-rules/{world.rule.public_id}/award?{query}")
        assert response.status_code == 201
        customer = await Customer.get(shop_id=world.shop.id, shopify_customer_id=4242)
        assert customer.points_balance == 100

    async def test_a_signed_proxy_request_with_a_nul_parameter_is_400(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """A parameter Shopify forwards from the storefront's URL (signed with the rest)."""
        query = signed_query(world.shop.domain, None, extra={"ref": "x\x00"})
        response = await client.get(f"/proxy/customer?{query}")
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": "ref"}

    async def test_an_unsigned_proxy_request_is_refused_before_its_parameters_are_read(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        """No signature: the 401 comes first (nothing read before the credential)."""
        response = await client.get("/proxy/earning-rules/%00/award?ref=%00")
        assert response.status_code in {400, 401}
        assert error_of(response)["code"] != "invalid_parameter"

    @pytest.mark.parametrize("path", ["/app/customers", "/app/rules/rule%00", "/app/tiers/%00"])
    async def test_an_admin_page_with_nul_in_a_parameter_is_400(
        self, client: httpx.AsyncClient, world: World, path: str
    ) -> None:
        """Admin documents check parameters once their ID token is verified."""
        shop = world.shop
        # Installed, with a token: the page opens without a token exchange.
        await Shop.filter(id=shop.id).update(
            installed_at=utcnow(), access_token_enc="unused", access_token_expires_at=None
        )
        token = id_token(shop.domain.removesuffix(".myshopify.com"))
        response = await client.get(f"{path}?search=%00&id_token={token}&shop={shop.domain}")
        assert response.status_code == 400, response.text
        assert error_of(response)["code"] == "invalid_parameter"


LONG_ID = "rule_" + "a" * 28  # one past the public ids' column width


class TestOverlongIds:
    @pytest.mark.parametrize(
        ("path", "code"),
        [
            (f"/earning-rules/{LONG_ID}", "earning_rule_not_found"),
            (f"/vip-tiers/{LONG_ID}", "vip_tier_not_found"),
            ("/customers/" + "a" * 300 + "@example.com", "customer_not_found"),
        ],
    )
    async def test_the_public_api_answers_not_found(
        self, api: Api, world: World, path: str, code: str
    ) -> None:
        """An id longer than its column names nothing: the resource's 404 (Tortoise refused to
        query it, a 500)."""
        response = await api.get(path)
        assert response.status_code == 404
        assert error_of(response)["code"] == code

    @pytest.mark.parametrize(
        ("method", "path", "code"),
        [
            ("PATCH", f"/earning-rules/{LONG_ID}", "earning_rule_not_found"),
            ("POST", f"/earning-rules/{LONG_ID}/activate", "earning_rule_not_found"),
            ("PATCH", f"/vip-tiers/{LONG_ID}", "vip_tier_not_found"),
            ("DELETE", f"/vip-tiers/{LONG_ID}", "vip_tier_not_found"),
            ("POST", f"/api-keys/{LONG_ID}/revoke", "api_key_not_found"),
        ],
    )
    async def test_the_admin_api_answers_not_found(
        self, admin: Admin, world: World, method: str, path: str, code: str
    ) -> None:
        """The same on the embedded admin's writes, which write nothing."""
        before = await snapshot()
        response = await admin.request(method, path, {"name": "x"} if method == "PATCH" else None)
        assert response.status_code == 404
        assert error_of(response)["code"] == code
        assert await snapshot() == before


class TestEveryRouteIsScreened:
    def test_every_route_behind_a_credential_checks_its_parameters(self) -> None:
        """Each route of /api/v1, /app/api and /proxy in the app's route table is wrapped by
        `screen_routes` (a route added to those tables without it would read NUL unchecked);
        the admin pages check in their endpoint (tested above)."""
        app = create_app(Settings(), manage_db=False)
        mounts = [r for r in app.routes if isinstance(r, Mount)]
        guarded = {m.path: m.routes for m in mounts if m.path in {"/api/v1", "/app/api", "/proxy"}}
        assert set(guarded) == {"/api/v1", "/app/api", "/proxy"}
        unscreened = [
            f"{prefix}{route.path}"
            for prefix, routes in guarded.items()
            for route in routes
            if not (isinstance(route, Route) and isinstance(route.app, ScreenedParams))
        ]
        assert unscreened == []
