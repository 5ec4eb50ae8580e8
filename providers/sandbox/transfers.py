"""Sandbox transfers (filled in by the payouts work)."""

from __future__ import annotations

from providers.base import ProviderError, Transfer, TransferRequest


class SandboxTransfers:
    async def create_transfer(self, request: TransferRequest) -> Transfer:
        raise ProviderError("sandbox transfers are not available in this build")

    async def cancel_transfer(self, transfer_id: str) -> bool:
        return False
