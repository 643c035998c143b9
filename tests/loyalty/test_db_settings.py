"""The session settings of the app's PostgreSQL connections (loyalty.db)."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from loyalty.db import connection

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)


async def test_the_apps_connections_never_jit_compile_a_statement(db: str) -> None:
    """PostgreSQL's default is `jit = on`: a misestimated plan could spend 100 ms compiling."""
    rows = await connection().execute_query_dict("SELECT current_setting('jit') AS jit")
    assert rows == [{"jit": "off"}]
    async with in_transaction() as tx:
        assert await tx.execute_query_dict("SHOW jit") == [{"jit": "off"}]
