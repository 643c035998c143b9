"""Customer identifiers as integrations send them, and the one rule for comparing them.

How identifiers are compared (every lookup by Shopify id or email goes through here):
- A **Shopify id** (`parse_shopify_id`; a global id in Shopify's payloads: `parse_gid`) is ASCII
  digits `0-9` only, optionally in the GraphQL form `gid://shopify/Customer/<digits>`, from 1
  to 2^63-1 (a PostgreSQL bigint). `str.isdigit()` and `int()` also take other scripts' digits
  (`"٧000000001"` would be 7000000001), `int()` takes `_` and spaces: neither is ever used
  alone on input. Anything else is no id at all.
- An **email** is compared after trimming ASCII whitespace and lower-casing the ASCII letters
  `A-Z`, nothing else: no Unicode case folding or compatibility normalisation, which would make
  distinct addresses equal (the Kelvin sign `K` folds to `k`, `ﬀ` to `ff`). Two emails are the
  same customer's when these keys are equal; that is what `Customer.email_key` holds.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_IDENTIFIER_LENGTH = 255
MAX_BIGINT = 2**63 - 1
GID_PREFIX = "gid://shopify/Customer/"
_ASCII_SPACE = " \t\n\r\f\v"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class CustomerIdentifier:
    """Exactly one of the two is set, or neither when the value can match no customer."""

    shopify_customer_id: int | None = None
    email_key: str | None = None

    @property
    def matches_nothing(self) -> bool:
        return self.shopify_customer_id is None and self.email_key is None


def ascii_number(text: str, *, maximum: int = MAX_BIGINT) -> int | None:
    """The value of `text` when it is one or more ASCII digits and at most `maximum`, else
    None. The one way input digits become a number (ids, counts, lengths)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


def parse_shopify_id(raw: str) -> int | None:
    """`"6789012345"` or `"gid://shopify/Customer/6789012345"` (ASCII whitespace around is
    ignored) → 6789012345; None for anything else, 0, or past a bigint."""
    number = ascii_number(raw.strip(_ASCII_SPACE).removeprefix(GID_PREFIX))
    return number if number else None


def parse_gid(value: object, kind: str) -> int | None:
    """`"gid://shopify/<kind>/6789012345"` → 6789012345 (ASCII digits, 1 to 2^63-1); None for
    anything else. The one check of a global id Shopify sends (customers, shops)."""
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    return ascii_number(value.removeprefix(prefix)) or None


def normalize_email(email: str | None) -> str | None:
    """The comparison key for an email: ASCII whitespace trimmed, `A-Z` lower-cased, nothing
    else changed (see the module docstring). Also the key for a substring search."""
    if email is None:
        return None
    key = email.strip(_ASCII_SPACE).translate(_ASCII_LOWER)
    return key or None


def parse_customer_identifier(raw: str) -> CustomerIdentifier:
    """`"6789012345"`, `"gid://shopify/Customer/6789012345"` or `" Ann@Example.com "`. Longer
    than `MAX_IDENTIFIER_LENGTH` (the email column's width) matches nothing."""
    value = raw.strip(_ASCII_SPACE)
    if len(value) > MAX_IDENTIFIER_LENGTH:
        return CustomerIdentifier()
    shopify_id = parse_shopify_id(value)
    if shopify_id is not None:
        return CustomerIdentifier(shopify_customer_id=shopify_id)
    if "@" in value and not value.startswith(GID_PREFIX):
        return CustomerIdentifier(email_key=normalize_email(value))
    return CustomerIdentifier()
