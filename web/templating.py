"""Jinja2 for the embedded admin's documents: one environment, autoescaping on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)


def render(name: str, **context: Any) -> str:
    return environment.get_template(name).render(**context)
