"""The ASGI entry point for uvicorn: `uvicorn web.asgi:create --factory`."""

from __future__ import annotations

from starlette.applications import Starlette

from loyalty.settings import Settings
from web.app import create_app


def create() -> Starlette:
    return create_app(Settings.from_env())
