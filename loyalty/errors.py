"""Domain errors. Each carries a stable snake_case `code`; web/errors.py maps codes to statuses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An expected failure a caller can act on. Never a 500."""

    code = "domain_error"
    title = "Request failed"
    # Machine-readable facts about the failure (rendered as the error object's `meta`).
    meta: dict[str, Any] | None = None

    def __init__(self, detail: str, *, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer  # JSON pointer to the offending field, when there is one


class ValidationError(DomainError):
    code = "validation_failed"
    title = "Invalid value"

    def __init__(self, detail: str, *, pointer: str | None = None, code: str | None = None) -> None:
        super().__init__(detail, pointer=pointer)
        if code:
            self.code = code


class NotFoundError(DomainError):
    code = "not_found"
    title = "Not found"


class EarningRuleNotFoundError(NotFoundError):
    code = "earning_rule_not_found"
    title = "Earning rule not found"


class EarningRuleInactiveError(NotFoundError):
    code = "earning_rule_inactive"
    title = "Earning rule not found"


class CustomerNotFoundError(NotFoundError):
    code = "customer_not_found"
    title = "Customer not found"


class CategoryNotAwardableError(DomainError):
    code = "category_not_awardable"
    title = "Earning rule cannot be awarded via the API"


class CustomerExcludedError(DomainError):
    code = "customer_excluded"
    title = "Customer is excluded from the loyalty program"


class AlreadyAwardedError(DomainError):
    code = "already_awarded"
    title = "Points already awarded"


class ConflictError(DomainError):
    code = "conflict"
    title = "Conflict"


class VipTierNotFoundError(NotFoundError):
    code = "vip_tier_not_found"
    title = "VIP tier not found"


class ApiKeyNotFoundError(NotFoundError):
    code = "api_key_not_found"
    title = "API key not found"


class DataRequestNotFoundError(NotFoundError):
    code = "data_request_not_found"
    title = "Data request not found"
