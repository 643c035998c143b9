"""The public API's query and path parameters, declared once: each list endpoint's `Listing`
(paging, sort fields, filters) both parses a request's query (400 `invalid_parameter` naming
the parameter, see web.http.params) and documents itself in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams

from loyalty.paging import NEWEST_FIRST, Sort
from web.http import params
from web.http.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_NUMBER, MAX_PAGE_SIZE, Page, page_of
from web.public_api.spec import Param, Schema


@dataclass(frozen=True, slots=True)
class Filter:
    """`filter[name]`: one of `choices`, a true/false `flag`, or text of at most `max_length`."""

    description: str
    choices: tuple[str, ...] = ()
    flag: bool = False
    max_length: int | None = None

    def schema(self) -> Schema:
        if self.choices:
            return {"type": "string", "enum": list(self.choices)}
        if self.flag:
            return {"type": "boolean"}
        return {"type": "string", "maxLength": self.max_length}

    def parse(self, name: str, filters: Mapping[str, str]) -> str | bool | None:
        if self.flag:
            return params.flag(filters, name)
        if self.choices:
            return params.choice(filters, name, self.choices)
        value = filters.get(name)
        if value is not None and self.max_length is not None and len(value) > self.max_length:
            detail = f"filter[{name}] must be at most {self.max_length} characters"
            raise params.invalid(f"filter[{name}]", detail)
        return value


@dataclass(frozen=True, slots=True)
class Query:
    page: Page
    sort: Sort
    filters: dict[str, str | bool | None]


@dataclass(frozen=True, slots=True)
class Listing:
    """A paged list: `page[number]`, `page[size]`, `sort` over `sorts`, `filter[…]`."""

    sorts: Collection[str]
    filters: dict[str, Filter] = field(default_factory=dict)

    def parse(self, query: QueryParams) -> Query:
        page = page_of(query)
        sort = params.sort_of(query, self.sorts, NEWEST_FIRST)
        sent = params.filters_of(query, set(self.filters))
        values = {name: rule.parse(name, sent) for name, rule in self.filters.items()}
        return Query(page, sort, values)

    def parameters(self) -> tuple[Param, ...]:
        orders = [order for name in sorted(self.sorts) for order in (name, f"-{name}")]
        return (
            Param(
                "page[number]",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER, "default": 1},
                "Page, from 1; past the last page the data is empty",
            ),
            Param(
                "page[size]",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
                "Items per page",
            ),
            Param(
                "sort",
                {"type": "string", "enum": orders, "default": "-created_at"},
                "Sort field; `-` for descending",
            ),
            *(Param(f"filter[{n}]", f.schema(), f.description) for n, f in self.filters.items()),
        )


def path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/]+$"},
    }


PATH_PARAMETERS = {
    "identifier": path_param("identifier", "The customer's Shopify customer ID or email address"),
    "rule_id": path_param("rule_id", "The rule's id (`rule_…`)"),
    "tier_id": path_param("tier_id", "The tier's id (`tier_…`)"),
    "reward_id": path_param("reward_id", "The reward's id (`reward_…`)"),
}
