"""The data model. Every table is scoped to a shop; see each module for what it owns."""

from loyalty.models.activity import Activity, ActorType
from loyalty.models.api_key import ApiKey, ApiKeyScope
from loyalty.models.customer import Customer
from loyalty.models.customer_count import CustomerCount
from loyalty.models.earning_history import EarningHistoryEntry, EarningStatus
from loyalty.models.earning_rule import API_AWARDABLE_CATEGORIES, EarningRule, RuleCategory
from loyalty.models.idempotency import IdempotencyRecord
from loyalty.models.ledger_rollup import LedgerRollup, LedgerRollupState
from loyalty.models.outbox import (
    DeliveryStatus,
    EventDelivery,
    Integration,
    IntentOutcome,
    OutboxIntent,
    Platform,
    SkipReason,
    SyncLease,
)
from loyalty.models.referral import (
    BlockReason,
    FingerprintKind,
    Referral,
    ReferralCode,
    ReferralFingerprint,
    ReferralProgramme,
    ReferralStatus,
)
from loyalty.models.reward import CodeStatus, Redemption, RedemptionStatus, Reward, RewardKind
from loyalty.models.shop import Shop
from loyalty.models.vip_tier import VipTier
from loyalty.models.webhook import DataRequest, WebhookEvent

__models__ = [
    Shop,
    ApiKey,
    Customer,
    CustomerCount,
    VipTier,
    EarningRule,
    EarningHistoryEntry,
    LedgerRollup,
    LedgerRollupState,
    Activity,
    OutboxIntent,
    SyncLease,
    EventDelivery,
    Integration,
    WebhookEvent,
    DataRequest,
    IdempotencyRecord,
    Reward,
    Redemption,
    ReferralProgramme,
    ReferralCode,
    Referral,
    ReferralFingerprint,
]

__all__ = [
    "API_AWARDABLE_CATEGORIES",
    "Activity",
    "ActorType",
    "ApiKey",
    "ApiKeyScope",
    "BlockReason",
    "CodeStatus",
    "Customer",
    "CustomerCount",
    "DataRequest",
    "DeliveryStatus",
    "EarningHistoryEntry",
    "EarningRule",
    "EarningStatus",
    "EventDelivery",
    "FingerprintKind",
    "IdempotencyRecord",
    "Integration",
    "IntentOutcome",
    "LedgerRollup",
    "LedgerRollupState",
    "OutboxIntent",
    "Platform",
    "Redemption",
    "RedemptionStatus",
    "Referral",
    "ReferralCode",
    "ReferralFingerprint",
    "ReferralProgramme",
    "ReferralStatus",
    "Reward",
    "RewardKind",
    "RuleCategory",
    "Shop",
    "SkipReason",
    "SyncLease",
    "VipTier",
    "WebhookEvent",
]
