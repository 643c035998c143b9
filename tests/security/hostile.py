"""Hypothesis strategies for hostile input, shared by the property tests and schemathesis:
JSON values with NUL, lone surrogates, huge and non-finite numbers and deep nesting, and the
text that goes into query strings and paths.

Some of these cannot be produced by `json.dumps` (it refuses `int`s past 4,300 digits and writes
`NaN` only for floats it has), so a value may hold `Raw` pieces that `dumps` writes verbatim.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import strategies as st


class Raw(str):
    """JSON text written as is: a number or a nesting `json.dumps` would not write."""

    __slots__ = ()


def dumps(value: Any) -> bytes:
    """`value` as JSON bytes; strings ASCII-escaped (a lone surrogate becomes `\\ud800`)."""
    return _text(value).encode()


def _text(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_text(str(k))}:{_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text(item) for item in value) + "]"
    return json.dumps(value)


def nested(depth: int) -> list[Raw]:
    return [Raw("[" * depth + "]" * depth), Raw('{"a":' * depth + "1" + "}" * depth)]


HOSTILE_NUMBERS = [
    Raw("9" * 5000),  # past Python's int-str conversion limit
    Raw("-" + "1" * 4400),
    Raw("1" * 101),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e400"),
    Raw("-1e400"),
    Raw("1e-400"),
    Raw("-0"),
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    0,
    -1,
]
HOSTILE_TEXT = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\udc00y",
    "\ud800\udc00",  # a proper pair: U+10000 once decoded
    "\u0667000000001",  # ٧ then digits
    "\u212aim@example.com",  # Kelvin sign
    "\u202e",
    "\ufffd",
    "%00",
    "' OR 1=1 --",
    "a" * 300,
    "9" * 30,
    "-1",
    "0",
    " ",
]
# Values the seeded world knows, so generated requests also get past validation.
KNOWN = [
    "6789012345",
    6789012345,
    "ann@example.com",
    "gid://shopify/Customer/6789012345",
    "quiz_completed",
    "review_written",
    "social",
    "custom",
    "klaviyo",
    5,
    10,
    True,
    False,
    None,
]

texts = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(st.characters(exclude_categories=()), max_size=12),  # surrogates included
)
numbers = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
deep = st.sampled_from([*nested(65), *nested(2_000), *nested(20_000)])
leaves = st.one_of(st.sampled_from(KNOWN), texts, numbers, deep)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            texts | st.sampled_from(["id", "data", "attributes"]), children, max_size=3
        )
    ),
    max_leaves=8,
)


def json_objects(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of `fields`, each holding anything, and maybe a hostile key."""
    return st.fixed_dictionaries(
        {}, optional={name: json_values for name in fields}
    ) | st.dictionaries(texts, json_values, max_size=2)


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Request bodies: objects naming `fields`, any JSON value, or bytes that are not JSON."""
    return st.one_of(
        json_objects(fields).map(dumps),
        json_values.map(dumps),
        st.binary(max_size=40),
    )


def url_text(text: str) -> str:
    """`text` percent-encoded for a URL (a surrogate as its UTF-8-style bytes, which the server
    decodes to U+FFFD)."""
    return quote(text, safe="", errors="surrogatepass")


def as_received(text: str) -> str:
    """What the server decodes `url_text(text)` to (what a signature must cover)."""
    return unquote(url_text(text), errors="replace")


def _url_safe(text: str) -> str:
    # What a URL can carry: a surrogate arrives as U+FFFD whatever the client sends.
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


url_texts = texts.map(_url_safe)
# A path segment: no "/" (another route) and no dot segments (URL syntax, not an identifier).
path_texts = url_texts.map(lambda t: t.replace("/", "\ufffd")).filter(lambda t: t.strip(".") != "")
