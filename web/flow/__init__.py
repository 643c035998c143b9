"""Shopify Flow's audience: the Flow action endpoints (`/flow/actions/…`), each request
verified by its body HMAC before anything in it is read (web.flow.actions)."""

from __future__ import annotations

from web.flow.actions import routes

__all__ = ["routes"]
