"""Public identifiers: opaque, prefixed, unguessable (`rule_…`, `cer_…`, `tier_…`, `key_…`)."""

from __future__ import annotations

import secrets
import time

RULE = "rule"
EARNING_ENTRY = "cer"
VIP_TIER = "tier"
API_KEY = "key"


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def new_time_ordered_id(prefix: str) -> str:
    """`cer_` + 12 hex digits of milliseconds + 10 random hex digits (40 bits: ids are made by
    the server and never guessed into anything). Ids made one after another land next to each
    other in the unique index, so high insert rates touch one hot page, not a random one each
    (far fewer pages written, and far less WAL after every checkpoint)."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"
