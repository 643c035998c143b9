"""Contract fuzzing: schemathesis generates requests from /api/v1/openapi.json (valid ones and
invalid ones) and sends them over HTTP to the running app (uvicorn on a real port) with a seeded
shop and API key. Every response must be documented (status, content type, headers, body
schema), no response may be a 5xx, and every 4xx must be a proper JSON:API error object.

Schemathesis generates from the document's own schemas; `harden` adds the hostile input of
tests/security/hostile.py to a third of the cases: a body field set to a JSON value with NUL,
lone surrogates, huge or non-finite numbers or deep nesting, or a query or path parameter set
to hostile text (the same strategies as tests/security/test_no_server_errors.py).

Deterministic and bounded: Hypothesis is derandomized, with a fixed number of examples per
operation and generation mode (about 40 s per database on a 2-core machine); the server runs
in this test's event loop, on SQLite and on PostgreSQL like every other test.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loyalty.models import RuleCategory
from loyalty.settings import Settings
from tests.factories import create_api_key, create_customer, create_rule, create_tier
from tests.loyalty.rewards.helpers import connected_shop, reward
from tests.security import hostile
from tests.security.clients import without_rate_limits
from web.app import create_app

EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 20}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Limits out of the way: the fuzzer sends hundreds of requests with one key."""
    return without_rate_limits(settings)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app served by uvicorn on a free port (lifespan on), and a client for its URL."""
    config = uvicorn.Config(
        create_app(settings, manage_db=False, job_defer=0),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces a startup error
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def seed() -> tuple[str, dict[str, list[Any]]]:
    """A connected shop with tiers, rules (social, custom once and repeatable), a reward,
    customers; its key and the ids generated requests are steered towards, so they reach real
    records too."""
    shop = await connected_shop(points_expiry_days=365)
    bronze = await create_tier(
        shop, name="Bronze", points_required=0, points_multiplier=Decimal("1.00")
    )
    gold = await create_tier(
        shop, name="Gold", points_required=500, points_multiplier=Decimal("1.25")
    )
    social = await create_rule(shop, points=100)
    await create_rule(
        shop, category=RuleCategory.CUSTOM, action="custom", action_key="quiz", points=5
    )
    await create_rule(
        shop,
        category=RuleCategory.CUSTOM,
        action="custom",
        action_key="review",
        points=3,
        repeatable=True,
        limit_count=50,
        limit_period_days=1,
    )
    await create_customer(shop, shopify_customer_id=1001, email="ann@example.com", vip_tier=bronze)
    await create_customer(
        shop,
        shopify_customer_id=1002,
        email="bob@example.com",
        vip_tier=gold,
        points_balance=600,
        lifetime_points=600,
    )
    five_off = await reward(shop, points_cost=50)
    key = (await create_api_key(shop)).secret
    known = {
        "identifier": ["1001", "bob@example.com"],
        "rule_id": [social.public_id],
        "tier_id": [bronze.public_id, gold.public_id],
        "reward_id": [five_off.public_id],
        "action_key": ["quiz", "review"],
        "customer_id": [1001, 1002],
    }
    return key, known


def strict(document: dict[str, Any]) -> dict[str, Any]:
    """The document with `additionalProperties: false` on every object schema that lists its
    properties: the responses may not carry attributes the document does not name."""
    doc = copy.deepcopy(document)

    def visit(node: Any, in_response: bool) -> None:
        if isinstance(node, dict):
            if in_response and "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                visit(value, in_response)
        elif isinstance(node, list):
            for value in node:
                visit(value, in_response)

    for name, schema in doc["components"]["schemas"].items():
        visit(schema, in_response=not name.endswith("Request"))
    return doc


def steer(case: Any, known: dict[str, list[Any]], n: int) -> None:
    """Every other valid case names seeded records instead of random ones."""
    if n % 2:
        return
    for name in case.path_parameters or {}:
        if name in known:
            case.path_parameters[name] = known[name][n // 2 % len(known[name])]
    body = case.body
    if isinstance(body, dict):
        pick = n // 2
        if "action_key" in body:  # a custom action: a seeded action for a seeded customer
            body["action_key"] = known["action_key"][pick % 2]
            body["customer_id"] = known["customer_id"][pick % 2]
        if "customer_identifier" in body:
            body["customer_identifier"] = known["identifier"][pick % 2]
        attributes = body.get("data", {}).get("attributes") if "data" in body else body
        if isinstance(attributes, dict) and "is_excluded" in attributes:
            attributes["is_excluded"] = False  # keep the seeded customers able to earn


def harden(schema: Any) -> None:
    """One case in three gets one hostile part (body field, query or path parameter)."""

    @st.composite
    def mutated(draw: st.DrawFn, case: Any) -> Any:
        parts = [
            part
            for part, present in (
                ("body", isinstance(case.body, dict)),
                ("query", bool(case.query)),
                ("path", bool(case.path_parameters)),
            )
            if present
        ]
        if not parts:
            return case
        part = draw(st.sampled_from(parts))
        if part == "body":
            name = draw(st.sampled_from(sorted(case.body)) | hostile.texts)
            case.body[name] = draw(hostile.json_values)
        elif part == "query":
            case.query[draw(st.sampled_from(sorted(case.query)))] = draw(hostile.url_texts)
        else:
            name = draw(st.sampled_from(sorted(case.path_parameters)))
            # Schemathesis puts path values into the URL as they are: give it encoded text.
            case.path_parameters[name] = hostile.url_text(draw(hostile.path_texts))
        return case

    def flatmap_case(context: Any, case: Any) -> st.SearchStrategy[Any]:
        return st.one_of(st.just(case), st.just(case), mutated(case))

    schema.hook(flatmap_case)


def generate(operation: Any, mode: GenerationMode) -> list[Any]:
    cases: list[Any] = []

    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:  # nothing to get wrong (no parameters, no body) in negative mode
        assert mode is GenerationMode.NEGATIVE
    return cases


def error_object_problems(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return ["the body is not JSON"]
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return ["no `errors` list"]
    problems = []
    for error in errors:
        if not {"status", "code", "title", "detail"} <= set(error):
            problems.append(f"an error lacks members: {error}")
        elif error["status"] != str(response.status_code):
            problems.append(f"status {error['status']!r} in a {response.status_code}")
    return problems


class TestContract:
    async def test_the_app_keeps_its_published_contract(self, live: httpx.AsyncClient) -> None:
        """Generated valid and invalid requests: no 5xx, every response as documented, every
        4xx a JSON:API error object."""
        key, known = await seed()
        document = (await live.get("/api/v1/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(strict(document))
        harden(schema)
        failures: list[str] = []
        sent = 0
        statuses: list[tuple[str, str, int]] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in EXAMPLES:
                for n, case in enumerate(generate(operation, mode)):
                    if mode is GenerationMode.POSITIVE:
                        steer(case, known, n)
                    if any(v in {".", ".."} for v in (case.path_parameters or {}).values()):
                        continue  # dot segments: URL syntax, not an identifier
                    request = case.as_transport_kwargs(base_url=str(live.base_url.join("/api/v1")))
                    request["headers"]["Authorization"] = key  # keyless requests: tests/web
                    content = request.get("data")
                    if "json" in request:  # hostile.dumps: it writes what json.dumps cannot
                        content = hostile.dumps(request["json"])
                    response = await live.request(
                        request["method"],
                        request["url"],
                        params=request.get("params"),
                        headers=request.get("headers"),
                        content=content,
                    )
                    sent += 1
                    statuses.append((case.method, case.path, response.status_code))
                    label = (
                        f"{case.method} {case.formatted_path} ({mode.value}) "
                        f"→ {response.status_code}"
                    )
                    try:
                        case.validate_response(response, checks=CHECKS)
                    except FailureGroup as exc:
                        failures.append(f"{label}: {exc}")
                    if 400 <= response.status_code < 500:
                        failures += [f"{label}: {p}" for p in error_object_problems(response)]
        assert sent > 300
        # The steering works: every operation was answered with a success at least once.
        succeeded = {(method, path) for method, path, status in statuses if status < 300}
        assert succeeded == {(method, path) for method, path, _ in statuses}
        assert failures == [], "\n".join(failures[:20])
