"""Klaviyo, Omnisend and Postscript stand-ins: every request judged by the vendor's published
contract, and a refused one answered in the vendor's own error shape. `judge` (with `Call`)
serves any stand-in, e.g. bench/sync's HTTP server; `PartnerRouter` is a respx router whose
routes answer that way in tests, and whose own answers are judged too (`mock_problems`: the
response the contract declares for the status; extra fields allowed, missing or mistyped not).

The judges: Klaviyo's official SDK (standins.klaviyo_sdk) and Omnisend's and Postscript's
OpenAPI definitions (standins.partner_openapi).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import respx
from respx.models import ResolvedRoute

from standins import klaviyo_sdk
from standins.klaviyo_sdk import KLAVIYO_BASE, KLAVIYO_REVISION, strict_model
from standins.partner_calls import KLAVIYO, OMNISEND, POSTSCRIPT, Call, Refusal
from standins.partner_openapi import contract

__all__ = [
    "KLAVIYO",
    "KLAVIYO_REVISION",
    "OMNISEND",
    "POSTSCRIPT",
    "Call",
    "PartnerRouter",
    "Refusal",
    "base_urls",
    "judge",
    "judge_request",
    "mock_problems",
    "partner_mock",
    "strict_model",
]


def mock_problems(platform: str, call: Call, status: int, body: bytes) -> list[str]:
    """What is wrong with a stand-in's answer (a test's mock), judged by the response the
    vendor's contract declares for that status; [] when it declares none. Extra fields are
    allowed (vendors add them); a missing required field or a wrong type is not."""
    if platform == KLAVIYO:
        return klaviyo_sdk.mock_problems(call, status, body)
    return contract(platform).mock_problems(call, status, body)


def judge(platform: str, call: Call) -> Refusal | None:
    """None when the vendor's contract accepts the call, else the vendor's refusal."""
    if platform == KLAVIYO:
        return klaviyo_sdk.judge(call)
    return contract(platform).judge(call)


def base_urls() -> dict[str, str]:
    """Each platform's production base URL (the contracts' `servers`)."""
    return {
        KLAVIYO: KLAVIYO_BASE,
        OMNISEND: contract(OMNISEND).base_url,
        POSTSCRIPT: contract(POSTSCRIPT).base_url,
    }


def judge_request(request: httpx.Request) -> Refusal | None:
    """Judge an outgoing httpx request by the platform its URL names; other hosts pass."""
    found = _platform_call(request)
    return judge(*found) if found else None


def _platform_call(request: httpx.Request) -> tuple[str, Call] | None:
    url = str(request.url)
    for platform, base in base_urls().items():
        if url.startswith(base.rstrip("/") + "/"):
            return platform, Call.of(request, urlsplit(base).path)
    return None


class PartnerRouter(respx.MockRouter):
    """respx routes that answer like the vendors: a request Klaviyo, Omnisend or Postscript
    would refuse gets the vendor's error instead of the route's answer (the call is still
    recorded on the route, and in `refusals`); a route whose own answer breaks the response
    the vendor's contract declares fails the test. Other hosts are not judged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusals: list[Refusal] = []

    @contextmanager
    def resolver(self, request: httpx.Request) -> Iterator[ResolvedRoute]:
        with super().resolver(request) as resolved:
            yield resolved
            found = _platform_call(request)
            if found and resolved.route and isinstance(resolved.response, httpx.Response):
                platform, call = found
                refusal = judge(platform, call)
                if refusal is not None:
                    self.refusals.append(refusal)
                    resolved.response = refusal.response()
                    return
                answer = resolved.response
                answer.read()
                if problems := mock_problems(platform, call, answer.status_code, answer.content):
                    raise AssertionError(
                        f"{resolved.route!r} answers {call.method} {call.path} with what "
                        f"{platform} never answers ({answer.status_code}): {'; '.join(problems)}"
                    )


def partner_mock(*, assert_all_called: bool = True) -> PartnerRouter:
    """`with partner_mock() as mock:` in place of `with respx.mock(...) as mock:`."""
    return PartnerRouter(assert_all_called=assert_all_called)
