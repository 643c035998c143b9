"""Time as the API shows it: UTC, millisecond precision, ISO 8601 with `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, truncated to milliseconds so what is stored is exactly what is rendered."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def isoformat_z(value: datetime | None) -> str | None:
    """`2024-06-01T12:00:00.000Z`, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    # isoformat is C; strftime is several times slower on the hot path.
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_db_datetime(value: datetime | str | None) -> datetime | None:
    """Datetimes come back as objects from PostgreSQL and as ISO strings from raw SQLite reads."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
