"""The one rule for comparing a referred friend's email with others (self-referrals, one referral
per friend): loyalty.referrals and the customers/redact handling both use it.

An address is trimmed and lower-cased (ASCII, as loyalty.customers.identifiers does); then, for
providers that deliver `name+anything@` to `name@`, the `+tag` is dropped, and for Gmail (which
also ignores dots and answers at googlemail.com) the dots too. So `J.Doe+ref@GoogleMail.com`
and `jdoe@gmail.com` are one person. Addresses at other providers keep their dots and tags:
there they may be distinct mailboxes.
"""

from __future__ import annotations

from loyalty.customers.identifiers import normalize_email

# Providers documented to ignore a `+tag` (sub-addressing): Google, Microsoft, Apple, Proton,
# Fastmail. Yahoo's sub-addressing uses `-` and a chosen base name: not reversible.
_PLUS_PROVIDERS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "fastmail.com",
    }
)
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
MAX_EMAIL_LENGTH = 254


def looks_like_email(raw: str) -> bool:
    """One `@` with something either side, a dot in the domain, no spaces, at most 254."""
    value = raw.strip()
    local, at, domain = value.rpartition("@")
    return (
        bool(at and local and domain)
        and "." in domain.strip(".")
        and len(value) <= MAX_EMAIL_LENGTH
        and not any(ch.isspace() for ch in value)
        and "@" not in local
    )


def referral_email_key(raw: str | None) -> str | None:
    """The comparison key described in the module; None for no address."""
    key = normalize_email(raw)
    if not key or "@" not in key:
        return key
    local, _, domain = key.rpartition("@")
    if domain in _PLUS_PROVIDERS:
        local = local.split("+", 1)[0]
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"
