"""Public identifiers: opaque, prefixed, unguessable (`rule_…`, `cer_…`, `tier_…`, `key_…`)."""

from __future__ import annotations

import secrets

RULE = "rule"
EARNING_ENTRY = "cer"
VIP_TIER = "tier"
API_KEY = "key"


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"
