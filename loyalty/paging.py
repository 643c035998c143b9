"""Pages and sort orders of the public API's lists, as services take them.

A service declares the fields it can sort by (public name → column) and takes a `Sort` and a
`Window`; ties always break on the primary key in the same direction, so a page boundary never
shows a row twice or skips one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sort:
    field: str  # a public name from the service's sortable fields
    descending: bool = True

    def order_by(self, columns: Mapping[str, str]) -> tuple[str, str]:
        """Tortoise `order_by` arguments: the column, then the id as the tie-breaker."""
        sign = "-" if self.descending else ""
        return f"{sign}{columns[self.field]}", f"{sign}id"


NEWEST_FIRST = Sort("created_at", descending=True)


@dataclass(frozen=True, slots=True)
class Window:
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    items: list[T]
    total: int  # matching rows across all pages
