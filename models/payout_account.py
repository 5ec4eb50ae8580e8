"""Payout accounts (the KYC'd connected account at the provider) and their bank accounts.

Sensitive KYC values never land here: the provider keeps them. We keep only what we show
(last4, holder name) and a keyed fingerprint of the account number for duplicate detection.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow


class PayoutAccountStatus(enum.StrEnum):
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    VERIFIED = "VERIFIED"
    RESTRICTED = "RESTRICTED"
    DISABLED = "DISABLED"


class BusinessType(enum.StrEnum):
    INDIVIDUAL = "INDIVIDUAL"
    COMPANY = "COMPANY"


class BankAccountStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    ERRORED = "ERRORED"


class BankAccountType(enum.StrEnum):
    CHECKING = "CHECKING"
    SAVINGS = "SAVINGS"


# Which account status may follow which (provider webhooks never move an account backwards).
ACCOUNT_TRANSITIONS: dict[PayoutAccountStatus, frozenset[PayoutAccountStatus]] = {
    PayoutAccountStatus.PENDING_VERIFICATION: frozenset(
        {PayoutAccountStatus.VERIFIED, PayoutAccountStatus.RESTRICTED, PayoutAccountStatus.DISABLED}
    ),
    PayoutAccountStatus.RESTRICTED: frozenset(
        {PayoutAccountStatus.VERIFIED, PayoutAccountStatus.DISABLED}
    ),
    PayoutAccountStatus.VERIFIED: frozenset(
        {PayoutAccountStatus.RESTRICTED, PayoutAccountStatus.DISABLED}
    ),
    PayoutAccountStatus.DISABLED: frozenset(),
}


class PayoutAccount(SQLModel, table=True):
    __tablename__ = "payout_accounts"
    __table_args__ = (
        # One payout account per organization and mode (completeVerification is idempotent).
        sa.UniqueConstraint("organization_id", "livemode", name="uq_payout_accounts_org_mode"),
    )

    id: str = Field(default_factory=lambda: new_id("pacct"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    status: PayoutAccountStatus = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    transfers_enabled: bool = False
    business_type: BusinessType = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    email: str = Field(max_length=254)
    country: str = Field(max_length=2)
    provider: str = Field(max_length=32)
    provider_account_id: str | None = Field(default=None, max_length=128, index=True)
    # Time of the newest provider event applied: older events never move the account back.
    provider_updated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    verified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class BankAccount(SQLModel, table=True):
    __tablename__ = "bank_accounts"
    __table_args__ = (
        sa.UniqueConstraint(
            "payout_account_id", "fingerprint", name="uq_bank_accounts_account_fingerprint"
        ),
        # Exactly one default per payout account, enforced by the database as well.
        sa.Index(
            "uq_bank_accounts_one_default",
            "payout_account_id",
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        ),
    )

    id: str = Field(default_factory=lambda: new_id("ba"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    livemode: bool
    payout_account_id: str = Field(foreign_key="payout_accounts.id", index=True, max_length=40)
    holder_name: str = Field(max_length=200)
    last4: str = Field(max_length=4)
    # HMAC-SHA256 of the normalized account + routing number under the secret key.
    fingerprint: str = Field(max_length=64)
    bank_name: str | None = Field(default=None, max_length=200)
    country: str = Field(max_length=2)
    currency: str = Field(max_length=3)
    account_type: BankAccountType | None = Field(
        default=None, sa_column=sa.Column(sa.String(16), nullable=True)
    )
    is_default: bool = False
    status: BankAccountStatus = Field(
        default=BankAccountStatus.ACTIVE, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    provider_external_account_id: str | None = Field(default=None, max_length=128, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
