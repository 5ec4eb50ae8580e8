"""Every table, imported here so Alembic and SQLAlchemy see the whole metadata."""

from sqlmodel import SQLModel

from models.event import Event
from models.idempotency import IdempotencyRecord, IdempotencyStatus
from models.ledger import Balance, BalanceTransaction, BalanceTransactionType, PendingRelease
from models.organization import ApiKey, Organization
from models.payout import Payout, PayoutStatus, PayoutStatusChange
from models.payout_account import (
    BankAccount,
    BankAccountStatus,
    BankAccountType,
    BusinessType,
    PayoutAccount,
    PayoutAccountStatus,
)
from models.plan import Plan, PlanGroup
from models.provider_event import ProviderEvent
from models.rate_limit import RateLimitBucket
from models.rejected_provider_event import RejectedProviderEvent
from models.sandbox import (
    SandboxAccount,
    SandboxExternalAccount,
    SandboxTransfer,
    SandboxWebhookDelivery,
)
from models.webhook_endpoint import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventCursor,
)

metadata = SQLModel.metadata

__all__ = [
    "Balance",
    "BalanceTransaction",
    "BalanceTransactionType",
    "Payout",
    "PayoutStatus",
    "PayoutStatusChange",
    "PendingRelease",
    "ApiKey",
    "BankAccount",
    "BankAccountStatus",
    "BankAccountType",
    "BusinessType",
    "Event",
    "IdempotencyRecord",
    "IdempotencyStatus",
    "Organization",
    "PayoutAccount",
    "PayoutAccountStatus",
    "Plan",
    "PlanGroup",
    "ProviderEvent",
    "RateLimitBucket",
    "RejectedProviderEvent",
    "SandboxAccount",
    "SandboxExternalAccount",
    "SandboxTransfer",
    "SandboxWebhookDelivery",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEventCursor",
    "metadata",
]
