"""Sandbox connected accounts and external bank accounts (filled in by the payout-accounts work)."""

from __future__ import annotations

from providers.base import (
    AccountRequest,
    BankDetails,
    ConnectedAccount,
    ExternalAccount,
    ProviderError,
)


class SandboxAccounts:
    async def create_account(self, request: AccountRequest) -> ConnectedAccount:
        raise ProviderError("sandbox accounts are not available in this build")

    async def add_external_account(
        self, account_id: str, bank: BankDetails, *, idempotency_key: str
    ) -> ExternalAccount:
        raise ProviderError("sandbox accounts are not available in this build")
