"""The provider boundary: a protocol and neutral dataclasses. Adapters translate a vendor's
vocabulary into these; nothing outside ``providers/`` knows a vendor's field names."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

T = TypeVar("T")

ObjectKind = Literal["account", "transfer"]

_IDENTIFIER = re.compile(r"^[\x21-\x7e]+$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_DATA_LIMITS = {"failure_code": 64, "failure_message": 500}


class ProviderError(Exception):
    """The provider refused or could not be reached. Safe to retry with the same idempotency key."""


class ProviderInputError(ProviderError):
    """The provider refused the merchant's input. ``field`` is the path of the offending value
    in the neutral request (``("individual", "date_of_birth")``, ``("bank", "routing_number")``;
    relative to ``BankDetails`` for ``add_external_account``)."""

    def __init__(self, message: str, field: tuple[str, ...]) -> None:
        super().__init__(message)
        self.field = field


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, rate limited us or failed (5xx): retry later."""


class ProviderAuthError(ProviderError):
    """The provider refused our credentials: an operator must fix the configuration. Still a
    ProviderError: whether a request went through stays unknown, so nothing may be refunded."""


class ProviderNotConfigured(Exception):
    """No provider is configured for this mode."""


class WebhookVerificationError(Exception):
    """Bad, missing or stale signature: nothing may be stored."""


class WebhookIgnored(Exception):
    """A genuine event this server has no use for (acknowledged, not stored)."""


class TransactionFactory(Protocol):
    """What a provider that keeps state in our database needs (``services.infra.database.Database``)."""

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    async def run_statement(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """One idempotent statement, atomic on its own (autocommit on PostgreSQL)."""
        ...


@dataclass(frozen=True, slots=True)
class BankDetails:
    account_number: str
    holder_name: str
    routing_number: str | None
    account_type: str | None  # "checking" | "savings"
    country: str
    currency: str


@dataclass(frozen=True, slots=True)
class Document:
    content: bytes
    content_type: str
    sha256: str


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """Everything a provider needs to open a connected account (KYC + first bank account).

    Sensitive values travel only in memory, to the provider; they are never persisted by us.
    """

    idempotency_key: str
    livemode: bool
    email: str
    business_type: str  # "individual" | "company"
    business_url: str
    country: str
    bank: BankDetails
    document: Document | None
    individual: Mapping[str, Any] | None = None
    company: Mapping[str, Any] | None = None
    # The merchant's acceptance of the provider's terms: when and from where (client IP).
    tos_accepted_at: datetime | None = None
    tos_ip: str | None = None


@dataclass(frozen=True, slots=True)
class ExternalAccount:
    id: str
    bank_name: str | None
    last4: str
    status: str  # "active" | "errored"


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    id: str
    status: str  # "pending_verification" | "verified" | "restricted" | "disabled"
    transfers_enabled: bool
    external_account: ExternalAccount


@dataclass(frozen=True, slots=True)
class TransferRequest:
    idempotency_key: str
    livemode: bool
    account_id: str
    external_account_id: str
    amount: int
    currency: str
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    status: str  # "pending" | "in_transit" | "paid" | "failed" | "canceled"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified provider event in neutral terms.

    ``data`` holds neutral keys: ``status`` (one of the neutral statuses above),
    ``transfers_enabled``, ``failure_code``, ``failure_message``.
    """

    id: str
    type: str
    occurred_at: datetime
    livemode: bool
    object_kind: ObjectKind
    object_id: str
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        # A signed event is still the provider's input: whatever our columns cannot hold is a
        # malformed event (ValueError → 400, raw body kept), never a database error (500,
        # which a provider retries for days).
        for name, value, limit in (
            ("id", self.id, 128),
            ("type", self.type, 64),
            ("object id", self.object_id, 128),
        ):
            if not _IDENTIFIER.match(value) or len(value) > limit:
                raise ValueError(f"event {name} must be 1 to {limit} visible ASCII characters")
        if self.occurred_at.utcoffset() is None:
            raise ValueError("event time must carry a UTC offset")
        for key, value in self.data.items():
            if isinstance(value, str) and _UNSTORABLE.search(value):
                raise ValueError(f"event field {key} holds unstorable characters")
        if any(
            isinstance(v, str) and len(v) > _DATA_LIMITS.get(k, len(v))
            for k, v in self.data.items()
        ):
            # An over-long message is no reason to refuse the event: it is cut to fit.
            fitted = {
                k: v[: _DATA_LIMITS[k]] if isinstance(v, str) and k in _DATA_LIMITS else v
                for k, v in self.data.items()
            }
            object.__setattr__(self, "data", fitted)


class PayoutProvider(Protocol):
    name: str

    async def create_account(self, request: AccountRequest) -> ConnectedAccount: ...

    async def add_external_account(
        self, account_id: str, bank: BankDetails, *, idempotency_key: str, default: bool = False
    ) -> ExternalAccount:
        """Attach a bank account; ``default`` makes it the default for its currency."""
        ...

    async def create_transfer(self, request: TransferRequest) -> Transfer: ...

    async def cancel_transfer(self, transfer_id: str) -> bool:
        """True when the provider canceled it (only before it left for the bank)."""
        ...

    async def find_transfer(self, idempotency_key: str) -> Transfer | None:
        """The transfer created with this idempotency key, or None when there is none.
        Raises ProviderError when the provider cannot say."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Verify the signature on the raw body, then parse. Raises WebhookVerificationError."""
        ...
