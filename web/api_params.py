"""The public API's query parameters: `page[number]`/`page[size]`, `sort` and `filter[…]`.

Every problem is a 400 `invalid_parameter` whose error names the parameter
(`source.parameter`), as JSON:API does: a page size of 0 or over 100, a page number below 1,
an unknown sort field or filter, a filter value that is not one of its choices.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from loyalty.customers.identifiers import ascii_number
from loyalty.paging import Sort, Window
from web.errors import RequestError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 1_000_000


def invalid(parameter: str, detail: str) -> RequestError:
    return RequestError(
        400, "invalid_parameter", "Invalid query parameter", detail, parameter=parameter
    )


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def window(self) -> Window:
        return Window(offset=(self.number - 1) * self.size, limit=self.size)

    def meta(self, total: int) -> dict[str, int]:
        return {
            "total": total,
            "page": self.number,
            "per_page": self.size,
            "total_pages": -(-total // self.size),
        }


def page_of(query: QueryParams) -> Page:
    return Page(
        number=_int_in(query, "page[number]", 1, 1, MAX_PAGE_NUMBER),
        size=_int_in(query, "page[size]", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


def _int_in(query: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    number = ascii_number(raw.strip(), maximum=high)
    if number is None or number < low:
        raise invalid(name, f"{name} must be an integer from {low} to {high}")
    return number


def sort_of(query: QueryParams, fields: Collection[str], default: Sort) -> Sort:
    """`sort=<field>` ascending, `sort=-<field>` descending; one field."""
    raw = query.get("sort")
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    descending = text.startswith("-")
    name = text.removeprefix("-")
    if name not in fields:
        choices = ", ".join(sorted(fields))
        raise invalid("sort", f"sort must be one of {choices}, optionally prefixed with -")
    return Sort(name, descending)


def filters_of(query: QueryParams, names: Collection[str]) -> dict[str, str]:
    """The `filter[…]` parameters sent; an unknown one is a 400."""
    found: dict[str, str] = {}
    for key, value in query.multi_items():
        if not key.startswith("filter["):
            continue
        name = key.removeprefix("filter[").removesuffix("]")
        if key != f"filter[{name}]" or name not in names:
            allowed = ", ".join(f"filter[{n}]" for n in sorted(names)) or "none"
            raise invalid(key, f"Unknown filter {key}; this list takes {allowed}")
        found[name] = value
    return found


def choice(filters: Mapping[str, str], name: str, choices: Collection[str]) -> str | None:
    value = filters.get(name)
    if value is None:
        return None
    if value not in choices:
        raise invalid(f"filter[{name}]", f"filter[{name}] must be one of {', '.join(choices)}")
    return value


def boolean(query: Mapping[str, str], name: str, *, parameter: str | None = None) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    if value.lower() in {"true", "1"}:
        return True
    if value.lower() in {"false", "0"}:
        return False
    parameter = parameter or name
    raise invalid(parameter, f"{parameter} must be true or false")


def flag(filters: Mapping[str, str], name: str) -> bool | None:
    """A true/false filter (`filter[is_active]=true`)."""
    return boolean(filters, name, parameter=f"filter[{name}]")
