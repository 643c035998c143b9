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


class RewardNotFoundError(NotFoundError):
    """No such reward in the shop, or it is inactive (a customer cannot tell the two apart)."""

    code = "reward_not_found"
    title = "Reward not found"


class RedemptionNotFoundError(NotFoundError):
    code = "redemption_not_found"
    title = "Redemption not found"


class TierNotAllowedError(DomainError):
    """The reward is for a higher VIP tier than the customer's (403, like an exclusion)."""

    code = "tier_not_allowed"
    title = "Reward not available on the customer's VIP tier"


class RedemptionLimitReachedError(ConflictError):
    code = "redemption_limit_reached"
    title = "Redemption limit reached"


class InsufficientPointsError(ValidationError):
    code = "insufficient_points"
    title = "Insufficient points"


class InvalidPointsError(ValidationError):
    code = "invalid_points"
    title = "Invalid points"


class RedemptionNotCancellableError(ConflictError):
    """Only an active, unused redemption can be cancelled."""

    code = "redemption_not_cancellable"
    title = "Redemption cannot be cancelled"
