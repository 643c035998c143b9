"""The public API's seeded world and keyed client (tests/web/public_api) serve these tests too."""

from tests.web.public_api.conftest import api, world

__all__ = ["api", "world"]
