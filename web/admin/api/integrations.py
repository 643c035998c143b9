"""`/app/api/integrations`: the embedded admin's marketing integrations (Klaviyo, Omnisend,
Postscript), under the admin API's ID-token auth. The saved API key is never sent back, only
its hint; a failed connection test is a 200 with `ok: false` and the reason in plain words.

Each status carries the platform's dead letters (count and newest); `…/dead-letters` reads and
retries them, for `shopify` (the metafield syncs) as well, and says what is being retried after a
failure (how Shopify shows as failing). It carries its unconfirmed events too (sent, answer
lost, never re-sent on their own); `…/unconfirmed/resend` sends them again when the merchant
asks. Everything is the token's shop's."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.clock import isoformat_z
from loyalty.crypto import SecretBox
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import Platform, Shop
from loyalty.outbox import dead_letters, deliveries
from loyalty.outbox.dead_letters import DeadLetterCustomer, DeadLetterSummary
from loyalty.outbox.deliveries import UnconfirmedSummary
from loyalty.outbox.retrying import retrying
from loyalty.partners import integrations
from loyalty.partners.integrations import IntegrationStatus
from web.admin.api.bodies import SaveIntegration
from web.http.body import read_json_object
from web.http.jsonapi import document_response, resource
from web.http.validation import parse_body
from web.state import services


def _shop(request: Request) -> Shop:
    return request.state.shop  # type: ignore[no-any-return]


def _box(request: Request) -> SecretBox:
    return SecretBox(services(request).settings.secret_key)


def _platform(request: Request) -> Platform:
    return integrations.parse_platform(request.path_params["platform"])


def render(
    status: IntegrationStatus, dead: DeadLetterSummary, unconfirmed: UnconfirmedSummary
) -> dict[str, Any]:
    return resource(
        "integration",
        str(status.platform),
        {
            "platform": str(status.platform),
            "connected": status.connected,
            "enabled": status.enabled,
            "credential_hint": status.credential_hint,
            "last_success_at": isoformat_z(status.last_success_at),
            "last_error_at": isoformat_z(status.last_error_at),
            "last_error": status.last_error,
            **_dead_attributes(dead),
            **_unconfirmed_attributes(unconfirmed),
        },
    )


def _customer(
    customers: dict[int, DeadLetterCustomer], customer_id: int | None
) -> dict[str, Any] | None:
    found = customers.get(customer_id) if customer_id is not None else None
    if found is None:
        return None  # the shop's own (programme metafield), or a customer since deleted
    return {"shopify_customer_id": str(found.shopify_customer_id), "name": found.name}


def _dead_attributes(dead: DeadLetterSummary) -> dict[str, Any]:
    return {
        "dead_letter_count": dead.count,
        "dead_letters": [
            {
                "id": str(letter.id),
                "job": letter.job,
                "customer": _customer(dead.customers, letter.customer_id),
                "dead_at": isoformat_z(letter.dead_at),
                "attempts": letter.attempts,
                "last_error": letter.last_error,
            }
            for letter in dead.newest
        ],
    }


def _unconfirmed_attributes(unconfirmed: UnconfirmedSummary) -> dict[str, Any]:
    return {
        "unconfirmed_count": unconfirmed.count,
        "unconfirmed": [
            {
                "event_key": event.key,
                "customer": _customer(unconfirmed.customers, event.customer_id),
                "at": isoformat_z(event.at),
            }
            for event in unconfirmed.newest
        ],
    }


async def _rendered(request: Request, status: IntegrationStatus) -> dict[str, Any]:
    shop_id = _shop(request).id
    dead = await dead_letters.summary(shop_id=shop_id, source=str(status.platform))
    unconfirmed = await deliveries.unconfirmed_summary(shop_id=shop_id, platform=status.platform)
    return render(status, dead, unconfirmed)


def _resume(request: Request, status: IntegrationStatus) -> None:
    """Held syncs were released: have them dispatched now rather than at the next sweep."""
    if status.enabled:
        services(request).dispatcher.notify(
            _shop(request).id, [str(PROFILE_SYNC_JOBS[status.platform])]
        )


async def list_integrations(request: Request) -> Response:
    found = await integrations.list_integrations(shop=_shop(request), box=_box(request))
    return document_response([await _rendered(request, status) for status in found])


async def get_integration(request: Request) -> Response:
    status = await integrations.get_integration(
        shop=_shop(request), platform=_platform(request), box=_box(request)
    )
    return document_response(await _rendered(request, status))


async def save_integration(request: Request) -> Response:
    platform = _platform(request)
    body = parse_body(SaveIntegration, await read_json_object(request), status=422)
    status = await integrations.save_credentials(
        shop=_shop(request),
        platform=platform,
        api_key=body.api_key,
        enabled=body.enabled,
        box=_box(request),
    )
    _resume(request, status)
    return document_response(await _rendered(request, status))


async def test_integration(request: Request) -> Response:
    state = services(request)
    result = await integrations.test_connection(
        shop=_shop(request),
        platform=_platform(request),
        box=_box(request),
        settings=state.settings,
        http=state.http,
    )
    return document_response(
        resource(
            "integration_test", str(result.platform), {"ok": result.ok, "detail": result.detail}
        )
    )


async def enable_integration(request: Request) -> Response:
    return await _set_enabled(request, enabled=True)


async def disable_integration(request: Request) -> Response:
    return await _set_enabled(request, enabled=False)


async def _set_enabled(request: Request, *, enabled: bool) -> Response:
    status = await integrations.set_enabled(
        shop=_shop(request), platform=_platform(request), enabled=enabled, box=_box(request)
    )
    _resume(request, status)
    return document_response(await _rendered(request, status))


async def list_dead_letters(request: Request) -> Response:
    """A source's dead letters, and the work it is retrying after a failure (`retrying_count`,
    the newest `retrying_error`, `retry_at`, `reauth_required`): for `shopify`, which has no
    integration status of its own, that is how the admin shows it failing."""
    source = request.path_params["platform"]
    shop_id = _shop(request).id
    dead = await dead_letters.summary(shop_id=shop_id, source=source)
    now = await retrying(shop_id=shop_id, jobs=dead_letters.parse_source(source))
    attributes = {
        **_dead_attributes(dead),
        "retrying_count": now.count,
        "retrying_error": now.error,
        "retry_at": isoformat_z(now.retry_at),
        # Shopify refused the shop's token for good: only opening the app again reconnects it.
        "reauth_required": _shop(request).reauth_required_at is not None,
    }
    return document_response(resource("dead_letters", source, attributes))


async def retry_dead_letters(request: Request) -> Response:
    """Retry all: the source's dead letters are pending again (a new retry window each) and
    the dispatcher is told now rather than at the next sweep. Answers how many."""
    source = request.path_params["platform"]
    jobs = dead_letters.parse_source(source)
    shop_id = _shop(request).id
    retried = await dead_letters.retry_dead_letters(shop_id=shop_id, jobs=jobs)
    if retried:
        services(request).dispatcher.notify(shop_id, [str(job) for job in jobs])
    return document_response(resource("dead_letter_retry", source, {"retried": retried}))


async def resend_unconfirmed(request: Request) -> Response:
    """Send again: the platform's unconfirmed events go out once more (the merchant accepts
    that one the platform did get shows twice), the dispatcher told now rather than at the
    next sweep. Answers how many."""
    platform = _platform(request)
    shop_id = _shop(request).id
    resent = await deliveries.resend_unconfirmed(shop_id=shop_id, platform=platform)
    if resent:
        services(request).dispatcher.notify(shop_id, [str(PROFILE_SYNC_JOBS[platform])])
    return document_response(resource("unconfirmed_resend", str(platform), {"resent": resent}))


async def delete_integration(request: Request) -> Response:
    await integrations.forget(shop=_shop(request), platform=_platform(request))
    return Response(status_code=204)


routes = [
    Route(
        "/integrations",
        list_integrations,
        methods=["GET"],
        name="admin_api.integrations.list",
    ),
    Route(
        "/integrations/{platform}",
        get_integration,
        methods=["GET"],
        name="admin_api.integrations.get",
    ),
    Route(
        "/integrations/{platform}",
        save_integration,
        methods=["PUT"],
        name="admin_api.integrations.save",
    ),
    Route(
        "/integrations/{platform}",
        delete_integration,
        methods=["DELETE"],
        name="admin_api.integrations.delete",
    ),
    Route(
        "/integrations/{platform}/dead-letters",
        list_dead_letters,
        methods=["GET"],
        name="admin_api.integrations.dead_letters",
    ),
    Route(
        "/integrations/{platform}/dead-letters/retry",
        retry_dead_letters,
        methods=["POST"],
        name="admin_api.integrations.dead_letters.retry",
    ),
    Route(
        "/integrations/{platform}/unconfirmed/resend",
        resend_unconfirmed,
        methods=["POST"],
        name="admin_api.integrations.unconfirmed.resend",
    ),
    Route(
        "/integrations/{platform}/test",
        test_integration,
        methods=["POST"],
        name="admin_api.integrations.test",
    ),
    Route(
        "/integrations/{platform}/enable",
        enable_integration,
        methods=["POST"],
        name="admin_api.integrations.enable",
    ),
    Route(
        "/integrations/{platform}/disable",
        disable_integration,
        methods=["POST"],
        name="admin_api.integrations.disable",
    ),
]
