"""The referral domain's errors, each with its stable `code` (statuses: web/errors.py by class)."""

from __future__ import annotations

from loyalty.errors import ConflictError, NotFoundError, ValidationError


class ReferralCodeNotFoundError(NotFoundError):
    code = "referral_code_not_found"
    title = "Referral code not found"


class ReferralNotFoundError(NotFoundError):
    code = "referral_not_found"
    title = "Referral not found"


class ReferralsDisabledError(ValidationError):
    code = "referrals_disabled"
    title = "Referrals are off"


class InvalidEmailError(ValidationError):
    code = "invalid_email"
    title = "Invalid email"


class InvalidReferralSettingsError(ValidationError):
    code = "invalid_referral_settings"
    title = "Invalid referral settings"


class ReferralNotBlockedError(ConflictError):
    code = "referral_not_blocked"
    title = "Referral is not blocked"
