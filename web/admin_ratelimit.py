"""The embedded admin's JSON API (`/app/api`) rate limit: one token bucket per shop and staff
user (the verified ID token's `dest` and `sub`), `ADMIN_API_RATE_LIMIT` per second and
`ADMIN_API_BURST` at once, in the app's limiter (Redis when configured, shared by every web
process). Staff of a shop, and shops, never share a bucket.

Checked by web.auth.id_token right after the token is verified and before the shop is read, so
a flood through one session costs neither a database read nor a write. Admin traffic is a
person clicking, so one limiter call per request (no reservations, unlike web.public_api.ratelimit).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from loyalty.settings import Settings
from web.errors import error_response
from web.ratelimit import Limit


def limit_of(settings: Settings) -> Limit:
    return Limit(rate=settings.admin_api_rate_limit, burst=settings.admin_api_burst)


async def refusal(scope: Scope, shop_domain: str, staff_user_id: str | None) -> Response | None:
    """The 429 to send instead when this staff user of this shop is over the limit, else None."""
    services = scope["state"]["services"]
    limit = limit_of(services.settings)
    # A token without `sub` (not one App Bridge issues for a staff user) shares the shop's.
    key = f"admin:{shop_domain}:{staff_user_id or '-'}"
    decision = await services.limiter.hit(key, limit)
    if decision.allowed:
        return None
    return error_response(
        429,
        "rate_limited",
        "Too Many Requests",
        f"The admin API allows {limit.burst} requests at once and {limit.rate:g} per second "
        f"after that, per staff user; retry after {decision.retry_after} s",
        headers=decision.headers(),
    )
