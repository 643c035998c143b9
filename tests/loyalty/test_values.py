"""Small value rules: time format, points arithmetic, customer identifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from loyalty.clock import isoformat_z, parse_db_datetime, utcnow
from loyalty.customers.identifiers import parse_customer_identifier
from loyalty.points import as_multiplier, multiplied_points


class TestIsoformatZ:
    def test_renders_milliseconds_and_z(self) -> None:
        """UTC with exactly three fractional digits and a Z."""
        value = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
        assert isoformat_z(value) == "2024-06-01T12:00:00.123Z"

    def test_converts_other_offsets_to_utc(self) -> None:
        """An aware datetime in another zone renders as the same instant in UTC."""
        value = datetime(2024, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
        assert isoformat_z(value) == "2024-06-01T12:00:00.000Z"

    def test_none_stays_none(self) -> None:
        """Null timestamps render as null."""
        assert isoformat_z(None) is None

    def test_now_is_truncated_to_milliseconds(self) -> None:
        """What is stored equals what is rendered."""
        assert utcnow().microsecond % 1000 == 0

    def test_parses_sqlite_text(self) -> None:
        """SQLite returns text; it parses back to an aware datetime."""
        assert parse_db_datetime("2024-06-01 12:00:00.123000+00:00") == datetime(
            2024, 6, 1, 12, 0, 0, 123000, tzinfo=UTC
        )


class TestMultipliedPoints:
    @pytest.mark.parametrize(
        ("base", "multiplier", "expected"),
        [
            (100, "1.5", 150),
            (25, "1.25", 31),
            (10, "1.25", 13),
            (15, "1.10", 17),
            (1, "1.49", 1),
            (3, "1.50", 5),
            (0, "2.00", 0),
        ],
    )
    def test_rounds_half_up_in_decimal(self, base: int, multiplier: str, expected: int) -> None:
        """round_half_up(base × multiplier), never binary floating point."""
        assert multiplied_points(base, Decimal(multiplier)) == expected

    def test_stored_multipliers_normalise_to_two_places(self) -> None:
        """PostgreSQL gives Decimal, SQLite gives text, a missing tier gives 1.00."""
        assert as_multiplier("1.5") == Decimal("1.50")
        assert as_multiplier(Decimal("1.25")) == Decimal("1.25")
        assert as_multiplier(None) == Decimal("1.00")


class TestParseCustomerIdentifier:
    @pytest.mark.parametrize(
        ("raw", "shopify_id", "email"),
        [
            ("6789012345", 6789012345, None),
            ("  6789012345 ", 6789012345, None),
            ("gid://shopify/Customer/6789012345", 6789012345, None),
            (" Ann@Example.COM ", None, "ann@example.com"),
            ("not-an-identifier", None, None),
            ("١٢٣", None, None),  # Arabic-Indic digits are not a Shopify id
            ("9" * 30, None, None),  # past bigint: can match no one
        ],
    )
    def test_reads_ids_and_emails(
        self, raw: str, shopify_id: int | None, email: str | None
    ) -> None:
        """Digits are a Shopify id, anything with @ is an email, the rest matches no one."""
        parsed = parse_customer_identifier(raw)
        assert (parsed.shopify_customer_id, parsed.email_key) == (shopify_id, email)
