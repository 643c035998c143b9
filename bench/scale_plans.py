"""The SQL the app sends, captured from Tortoise's own client log, and its query plans.

`capture()` records every statement the app's database client runs while it is open (the
`tortoise.db_client` logger at DEBUG: each query with its parameters, as sent); `explain()` then
runs `EXPLAIN (ANALYZE, BUFFERS)` of each distinct statement with the parameters it was first
sent with, inside a transaction that is rolled back, so explaining a write changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_EXPLAINABLE = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")


@dataclass
class Statement:
    sql: str
    values: list[Any]
    count: int = 1


@dataclass
class Capture:
    statements: dict[str, Statement] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(s.count for s in self.statements.values())


class _Recorder(logging.Handler):
    def __init__(self, capture: Capture) -> None:
        super().__init__(logging.DEBUG)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg != "%s: %s" or len(args) != 2:
            return
        sql, values = args[0], args[1]
        if not isinstance(sql, str) or not _EXPLAINABLE.match(sql):
            return
        seen = self.capture.statements.get(sql)
        if seen is None:
            self.capture.statements[sql] = Statement(sql, list(values or []))  # type: ignore[call-overload]
        else:
            seen.count += 1


@contextlib.contextmanager
def capture() -> Iterator[Capture]:
    """Record the statements Tortoise's client sends inside the block."""
    logger = logging.getLogger("tortoise.db_client")
    found = Capture()
    handler = _Recorder(found)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@dataclass
class Plan:
    sql: str
    count: int
    execution_ms: float | None
    text: str


class _Rollback(Exception):
    pass


async def explain(dsn: str, found: Capture) -> list[Plan]:
    """Each distinct statement's plan, the slowest first."""
    import asyncpg

    conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    plans = []
    try:
        for statement in found.statements.values():
            text = ""
            try:
                async with conn.transaction():
                    rows = await conn.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, *statement.values
                    )
                    text = "\n".join(row[0] for row in rows)
                    raise _Rollback
            except _Rollback:
                pass
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                text = f"(not explained: {type(exc).__name__}: {exc})"
            match = _EXECUTION.search(text)
            plans.append(
                Plan(
                    " ".join(statement.sql.split()),
                    statement.count,
                    float(match.group(1)) if match else None,
                    text,
                )
            )
    finally:
        await conn.close()
    return sorted(plans, key=lambda p: -(p.execution_ms or 0) * p.count)


def top_node(plan: Plan) -> str:
    """The plan's first line, shortened: what the database does for the statement."""
    first = plan.text.splitlines()[0] if plan.text else ""
    return re.sub(r"\s+\(cost=.*", "", first.strip().removeprefix("-> "))[:70]
