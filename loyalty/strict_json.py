"""JSON as the system reads it, and text the databases can store.

One reader for every JSON document that comes in (request bodies, webhook payloads):
- RFC 8259 only: `NaN`, `Infinity` and `-Infinity` (which Python's `json` accepts) are refused,
  and so is a number literal that overflows a float (`1e400` would become `inf`);
- a number literal is at most `MAX_NUMBER_LENGTH` characters (Python refuses to convert
  integers past 4,300 digits with a ValueError, and no field of ours needs more than 20);
- nesting is at most `MAX_DEPTH` arrays/objects deep (the stdlib raises RecursionError near
  1,000, and serialising a deep value again can raise it too).
Anything else is a `JsonRefused` naming the reason.

Strings are a separate question: `\\u0000` and lone surrogates (`\\ud800`–`\\udfff` without
their pair) are valid JSON escapes, but PostgreSQL refuses NUL in `text` and `jsonb`, and
neither is valid UTF-8, so they cannot be stored or compared. `find_unstorable` says where the
first one is (the caller refuses user input with it); `scrub` replaces each with U+FFFD (for
authentic data we must keep, such as a signed webhook).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
MAX_NUMBER_LENGTH = 100
REPLACEMENT = "\ufffd"

# A surrogate left in a decoded str is a lone one: json pairs a high and a low surrogate
# escape into one code point.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JsonRefused(ValueError):
    """Well-formed enough to parse, or not, but not JSON this system accepts."""


def loads(raw: bytes | str) -> Any:
    """The parsed document. Raises `json.JSONDecodeError` (not JSON), `UnicodeDecodeError`
    (bytes that are not text) or `JsonRefused` (see the module docstring)."""
    try:
        value = json.loads(raw, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except RecursionError:
        raise JsonRefused(f"it nests more than {MAX_DEPTH} levels deep") from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise JsonRefused(f"it nests more than {MAX_DEPTH} levels deep")
    return value


def _integer(literal: str) -> int:
    if len(literal) > MAX_NUMBER_LENGTH:
        raise JsonRefused(f"a number has more than {MAX_NUMBER_LENGTH} characters")
    return int(literal)


def _decimal(literal: str) -> float:
    if len(literal) > MAX_NUMBER_LENGTH:
        raise JsonRefused(f"a number has more than {MAX_NUMBER_LENGTH} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise JsonRefused(f"the number {literal} is too large")
    return value


def _constant(literal: str) -> Any:
    raise JsonRefused(f"{literal} is not a JSON number")


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Iterative: the value may be as deep as json.loads allows.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def unstorable(text: str) -> bool:
    """True when `text` holds a NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is not None


def find_unstorable(value: Any) -> str | None:
    """The JSON pointer (RFC 6901) of the first string, or object key, holding a NUL or a lone
    surrogate; "" for the document itself; None when there is none."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, str):
            if unstorable(node):
                return pointer
        elif isinstance(node, dict):
            for key in reversed(list(node)):
                path = f"{pointer}/{_escape(key)}"
                if unstorable(key):
                    return path
                stack.append((node[key], path))
        elif isinstance(node, list):
            stack.extend((item, f"{pointer}/{n}") for n, item in reversed(list(enumerate(node))))
    return None


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def scrub(value: Any) -> Any:
    """`value` with every NUL and lone surrogate, in strings and keys, replaced by U+FFFD.
    Call after `loads` (the depth is bounded, so recursion is safe)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value
