"""Points arithmetic: tier multipliers applied with half-up rounding, never binary floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ONE = Decimal("1.00")


def multiplied_points(base_points: int, multiplier: Decimal) -> int:
    """`round_half_up(base × multiplier)`: 100 × 1.5 = 150, 25 × 1.25 = 31, 10 × 1.25 = 13."""
    return int((Decimal(base_points) * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def as_multiplier(value: Decimal | str | float | int | None) -> Decimal:
    """A stored multiplier (Decimal from PostgreSQL, text from SQLite) as a 2-place Decimal."""
    if value is None:
        return ONE
    return Decimal(str(value)).quantize(Decimal("0.01"))
