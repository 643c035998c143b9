"""Customer identifiers as integrations send them: a Shopify customer id or an email address."""

from __future__ import annotations

from dataclasses import dataclass

MAX_IDENTIFIER_LENGTH = 255
_GID_PREFIX = "gid://shopify/Customer/"
_MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class CustomerIdentifier:
    """Exactly one of the two is set, or neither when the value can match no customer."""

    shopify_customer_id: int | None = None
    email_key: str | None = None

    @property
    def matches_nothing(self) -> bool:
        return self.shopify_customer_id is None and self.email_key is None


def normalize_email(email: str | None) -> str | None:
    """The lookup key for an email: trimmed and lower-cased (lookups are case-insensitive)."""
    if email is None:
        return None
    key = email.strip().lower()
    return key or None


def parse_customer_identifier(raw: str) -> CustomerIdentifier:
    """`"6789012345"`, `"gid://shopify/Customer/6789012345"` or `" Ann@Example.com "`."""
    value = raw.strip()
    if value.startswith(_GID_PREFIX):
        value = value.removeprefix(_GID_PREFIX)
    if value.isascii() and value.isdigit():
        number = int(value)
        return (
            CustomerIdentifier(shopify_customer_id=number)
            if number <= _MAX_BIGINT
            else CustomerIdentifier()
        )
    if "@" in value:
        return CustomerIdentifier(email_key=normalize_email(value))
    return CustomerIdentifier()
