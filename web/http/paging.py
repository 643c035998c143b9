"""Paging of list endpoints: `page[number]` (from 1) and `page[size]`, one `Page` class and one
parser for every mount that pages.

The rule: both parameters are positive integers (anything else, a blank included, is a 400
`invalid_parameter` naming the parameter); `page[number]` is at most `MAX_PAGE_NUMBER`. An
oversized `page[size]` is the one place the mounts differ, and each keeps its published
behaviour: the public API's contract rejects it (400, documented in its OpenAPI document),
the admin API serves the largest page instead (`clamp_size=True`; its tests assert it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loyalty.customers.identifiers import ascii_number
from loyalty.paging import Window
from web.errors import RequestError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 1_000_000


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def window(self) -> Window:
        return Window(offset=self.offset, limit=self.size)

    def meta(self, total: int) -> dict[str, int]:
        return {
            "total": total,
            "page": self.number,
            "per_page": self.size,
            "total_pages": -(-total // self.size),
        }


def page_of(query: Mapping[str, str], *, clamp_size: bool = False) -> Page:
    """The page a list request asks for (see the module docstring for the rule)."""
    size_limit = None if clamp_size else MAX_PAGE_SIZE
    size = _int_in(query, "page[size]", DEFAULT_PAGE_SIZE, size_limit)
    return Page(
        number=_int_in(query, "page[number]", 1, MAX_PAGE_NUMBER),
        size=min(size, MAX_PAGE_SIZE),
    )


def _int_in(query: Mapping[str, str], name: str, default: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    number = ascii_number(raw.strip(), maximum=high if high is not None else 999_999_999)
    if not number:  # None (not a number, or past the maximum) or 0
        shape = f"an integer from 1 to {high}" if high is not None else "a positive integer"
        raise RequestError(
            400,
            "invalid_parameter",
            "Invalid query parameter",
            f"{name} must be {shape}",
            parameter=name,
        )
    return number
