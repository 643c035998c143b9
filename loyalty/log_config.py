"""How every process of the app logs: one format and level, set the same way in the CLI, in each
uvicorn worker process (`loyalty serve --workers N` starts them without the CLI's set-up) and in
the arq worker.

Credentials never reach the logs: uvicorn's access log line carries each request's full URL, and
Shopify puts credentials in query strings (the admin's `id_token`, the app proxy's `signature`,
OAuth's `hmac` and `code`). Their values are masked before any handler sees the line.
"""

from __future__ import annotations

import logging
import re

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
# Query parameters whose values are credentials (compared case-insensitively).
CREDENTIAL_PARAMS = frozenset(
    {"id_token", "hmac", "signature", "code", "session", "state", "token", "access_token"}
)
_PARAM = re.compile(r"(?P<key>[^&=]*)=(?P<value>[^&]*)")


def configure_logging(level: str) -> None:
    """The app's format at `level` (once per process: a process that already has handlers, such
    as one whose root logger a test or uvicorn configured, keeps them), with credentials masked
    in the access log."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    logging.getLogger("tortoise").setLevel(logging.WARNING)  # its INFO lines are noise here
    mask_credentials_in_access_log()


def mask_credentials_in_access_log() -> None:
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, CredentialMask) for f in access.filters):
        access.addFilter(CredentialMask())


def masked_url(path: str) -> str:
    """`path?query` with the value of every credential parameter replaced."""
    base, separator, query = path.partition("?")
    if not separator:
        return path

    def mask(match: re.Match[str]) -> str:
        key = match.group("key")
        return f"{key}={REDACTED}" if key.lower() in CREDENTIAL_PARAMS else match.group(0)

    return f"{base}?{_PARAM.sub(mask, query)}"


class CredentialMask(logging.Filter):
    """Masks the URL argument of uvicorn's access line (`'%s - "%s %s HTTP/%s" %d'`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], masked_url(args[2]), *args[3:])
        return True
