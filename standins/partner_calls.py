"""What the partner stand-ins share: a request as the vendor receives it (`Call`), the vendor's
refusal (`Refusal`), and the platforms' names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

KLAVIYO, OMNISEND, POSTSCRIPT = "klaviyo", "omnisend", "postscript"

Problem = tuple[str, str]  # (where: a JSON pointer, "query x" or "header x"; what is wrong)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the vendor receives it; `path` is relative to the vendor's base URL."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    @classmethod
    def of(cls, request: httpx.Request, base_path: str = "") -> Call:
        return cls(
            method=request.method,
            path=request.url.path.removeprefix(base_path.rstrip("/")),
            query=tuple(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.content,
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the vendor answers instead: its status, its error document, and our reasons."""

    status: int
    body: dict[str, Any]
    problems: tuple[Problem, ...]

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, json=self.body)

    def __str__(self) -> str:
        return "; ".join(f"{where}: {what}" for where, what in self.problems)


def query_value(value: str) -> Any:
    return int(value) if re.fullmatch(r"-?\d+", value) else value


def pointer(loc: tuple[int | str, ...]) -> str:
    return "".join(f"/{part}" for part in loc)
