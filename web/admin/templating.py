"""Jinja2 for the embedded admin's documents: one environment, autoescaping on, and the few
filters the pages share (numbers, dates)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

ROOT = Path(__file__).resolve().parents[2]  # the repository: templates/ and static/ live there
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
# static/demo/ (the local demo's stand-ins for Shopify's scripts) is served only by the demo,
# behind its guard, at /demo/static/ (web.demo); the admin's /static mount leaves it out.
DEMO_STATIC = "demo"


def _number(value: Any) -> str:
    return f"{int(value or 0):,}"


def _when(value: datetime | None, fmt: str = "%-d %b %Y, %H:%M UTC") -> str:
    return value.strftime(fmt) if value is not None else "—"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)
environment.filters["number"] = _number
environment.filters["when"] = _when


def render(name: str, **context: Any) -> str:
    return environment.get_template(name).render(**context)


@cache
def static_url(path: str) -> str:
    """`/static/<path>?v=<content hash>` (static/demo/… at `/demo/static/…`): browsers may
    cache it for good, and a change to the file is a new URL."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    demo_file = path.removeprefix(f"{DEMO_STATIC}/")
    url = f"/demo/static/{demo_file}" if demo_file != path else f"/static/{path}"
    return f"{url}?v={digest}"
