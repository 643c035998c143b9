"""`/app/api/settings`: the programme's settings (whether it runs, points expiry, timezone,
the exclusion tag), read and partly updated; an explicit `null` clears a nullable field.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loyalty.shops import programme
from loyalty.shops.programme import ProgrammeChanges
from web.admin.api import bodies
from web.admin.api import serializers as render
from web.admin.api.context import body_of, shop
from web.http.jsonapi import document_response
from web.http.validation import explicit_fields


async def get_settings(request: Request) -> Response:
    return document_response(render.programme_settings(shop(request)))


async def update_settings(request: Request) -> Response:
    body = await body_of(request, bodies.UpdateProgramme)
    changes = cast(ProgrammeChanges, explicit_fields(body, nullable=bodies.PROGRAMME_NULLABLE))
    updated = await programme.update_programme(shop=shop(request), changes=changes)
    return document_response(render.programme_settings(updated))


routes = [
    Route("/settings", get_settings, methods=["GET"], name="admin_api.settings.get"),
    Route("/settings", update_settings, methods=["PATCH"], name="admin_api.settings.update"),
]
