"""Property: no request reaches a 5xx, and none that is refused writes anything (issue 12).

Every route of the app's route table (so a new route is covered the day it is added) gets
requests built by Hypothesis from `tests.security.hostile`: JSON bodies with NUL, lone
surrogates, huge and non-finite numbers and deep nesting (with field names taken from the
request models, so values also land where handlers read), hostile query and path parameters,
each sent with the audience's credential, without it, or with a forged one (API key, ID token,
app proxy signature, webhook HMAC). Outside HTTP is down (respx refuses every connection), as a
job started by an accepted request must not reach the internet.

Bounded: `EXAMPLES` per route and database, derandomized (about a minute per database on a
2-core machine); `HARDENING_EXAMPLES=500` runs a deeper search.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import inspect
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount, Route

from loyalty.clock import utcnow
from loyalty.models import Shop
from loyalty.settings import Settings
from loyalty.webhooks.topics import TOPICS_BY_GROUP
from tests.security import hostile
from tests.security.clients import without_rate_limits
from tests.security.state import summary
from tests.shopify_webhooks import run_jobs, sign
from tests.tokens import id_token
from tests.web.public_api.helpers import World
from web.app import create_app
from web.state import Services

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

EXAMPLES = int(os.environ.get("HARDENING_EXAMPLES", "12"))
SECRET = "test-client-secret"  # the conftest app's client secret


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            yield from _routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path


ROUTES = list(_routes(create_app(Settings(), manage_db=False).routes))
PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")
BODY_MODULES = (
    "web.public_api.requests",
    "web.admin.api.bodies",
    "web.public_api.routes",
    "loyalty.webhooks.payloads",
)
FIELDS = sorted(
    {
        name
        for module in map(importlib.import_module, BODY_MODULES)
        for model in vars(module).values()
        if inspect.isclass(model) and issubclass(model, BaseModel) and model is not BaseModel
        for name in model.model_fields
    }
)
QUERY_NAMES = [
    "filter[email]",
    "filter[loyalty_status]",
    "filter[status]",
    "filter[category]",
    "filter[is_active]",
    "page[number]",
    "page[size]",
    "sort",
    "search",
    "page",
    "category",
    "points_required",
    "tier_id",
    "name",
    "exclude_vip",
    "shop",
]
CREDENTIALS = ["valid", "none", "forged"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Rate limits out of the way: hundreds of requests share one key."""
    return without_rate_limits(settings)


@pytest.fixture
def offline() -> Iterator[None]:
    """Every outside connection fails, as in a network outage (nothing is answered for a
    vendor, so there is no contract to keep)."""
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=httpx.ConnectError("outside HTTP is off in this test"))
        yield


@pytest.fixture
async def installed(world: World) -> World:
    """The world's shop with an offline token, so admin pages open without a token exchange."""
    await Shop.filter(id=world.shop.id).update(
        installed_at=utcnow(), access_token_enc="unused", access_token_expires_at=None
    )
    return world


def _known_values(world: World) -> dict[str, list[str]]:
    return {
        "identifier": [str(world.ann.shopify_customer_id), "ann@example.com"],
        "customer_id": [str(world.ann.shopify_customer_id)],
        "rule_id": [world.rule.public_id, world.quiz.public_id],
        "tier_id": [world.gold.public_id],
        "reward_id": [world.reward.public_id],
        "platform": ["klaviyo", "omnisend", "postscript"],
        "key_id": ["key_unknown"],
        "request_id": ["1"],
    }


def _path(template: str, data: st.DataObject, known: dict[str, list[str]]) -> str:
    def fill(match: re.Match[str]) -> str:
        pool = known.get(match.group(1), [])
        value = data.draw(
            st.sampled_from(pool) | hostile.texts if pool else hostile.texts, label=match.group(1)
        )
        return hostile.url_text(value or "x").replace(".", "%2E")

    return PARAMETER.sub(fill, template)


def _signed_proxy_query(params: dict[str, str], secret: str) -> str:
    """The app proxy's signature over the parameters as the server will decode them."""
    received = {hostile.as_received(k): hostile.as_received(v) for k, v in params.items()}
    message = "".join(f"{k}={v}" for k, v in sorted(received.items()))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return _query({**params, "signature": signature})


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{hostile.url_text(k)}={hostile.url_text(v)}" for k, v in params.items())


def _request(
    method: str, template: str, data: st.DataObject, world: World
) -> tuple[str, dict[str, Any], bytes]:
    """(url, headers, body) for one drawn request to the route."""
    path = _path(template, data, _known_values(world))
    credential = data.draw(st.sampled_from(CREDENTIALS), label="credential")
    query: dict[str, str] = data.draw(
        st.dictionaries(st.sampled_from(QUERY_NAMES) | hostile.texts, hostile.texts, max_size=3),
        label="query",
    )
    body = b"" if method == "GET" else data.draw(hostile.bodies(FIELDS), label="body")
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    shop_name = world.shop.domain.removesuffix(".myshopify.com")
    if path.startswith("/api/v1"):
        if credential != "none":
            headers["Authorization"] = world.key if credential == "valid" else "sk_forged"
        key = data.draw(st.sampled_from([None, b"key-1", b"k\x00", b"\xe9"]), label="key")
        if key is not None:
            headers["Idempotency-Key"] = key
    elif path.startswith("/app/api"):
        if credential != "none":
            secret = SECRET if credential == "valid" else "forged-secret"
            headers["Authorization"] = f"Bearer {id_token(shop_name, secret=secret)}"
    elif path.startswith("/proxy"):
        query |= {
            "shop": world.shop.domain,
            "path_prefix": "/apps/loyalty",
            "timestamp": str(int(time.time())),
            "logged_in_customer_id": data.draw(
                st.sampled_from(["", str(world.ann.shopify_customer_id), "555"]) | hostile.texts,
                label="logged_in_customer_id",
            ),
        }
        if credential != "none":
            secret = SECRET if credential == "valid" else "forged-secret"
            return f"{path}?{_signed_proxy_query(query, secret)}", headers, body
    elif path.startswith("/webhooks"):
        group = path.removeprefix("/webhooks/")
        topics = sorted(TOPICS_BY_GROUP.get(group, {"orders/paid"}))
        headers |= {
            "X-Shopify-Topic": data.draw(
                st.sampled_from(topics) | hostile.texts, label="topic"
            ).encode("utf-8", "surrogatepass"),
            "X-Shopify-Shop-Domain": data.draw(
                st.sampled_from([world.shop.domain, "stranger.myshopify.com", "evil.com"]),
                label="shop",
            ),
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-10",
        }
        if credential != "none":
            headers["X-Shopify-Hmac-Sha256"] = sign(
                body, SECRET if credential == "valid" else "forged-secret"
            )
    elif path.startswith("/app") or path in {"/", "/auth/patch-id-token"}:
        query |= {"shop": world.shop.domain, "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvc2hvcA"}
        if credential != "none":
            secret = SECRET if credential == "valid" else "forged-secret"
            query["id_token"] = id_token(shop_name, secret=secret)
    return f"{path}?{_query(query)}" if query else path, headers, body


def _ids() -> list[str]:
    return [f"{method} {path}" for method, path in ROUTES]


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=_ids())
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_no_request_reaches_a_server_error(
    client: httpx.AsyncClient,
    services: Services,
    installed: World,
    offline: None,
    method: str,
    template: str,
    data: st.DataObject,
) -> None:
    """Whatever the body, parameters and credential: a 4xx that writes nothing, or a success;
    never a 5xx."""
    url, headers, body = _request(method, template, data, installed)
    await run_jobs(services)  # what earlier accepted requests queued, settled first
    before = await summary()
    response = await client.request(method, url, headers=headers, content=body)
    note = (
        f"{method} {url[:300]} body={body[:300]!r} → {response.status_code} {response.text[:300]}"
    )
    assert response.status_code < 500, note
    if 400 <= response.status_code < 500:
        assert await summary() == before, note
