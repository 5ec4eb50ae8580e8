"""Which provider serves which mode: test → the sandbox (or the configured test provider);
live → the configured one (none by default)."""

from __future__ import annotations

from providers.base import PayoutProvider, ProviderNotConfigured
from providers.sandbox import SandboxProvider


class ProviderRegistry:
    def __init__(
        self,
        sandbox: SandboxProvider,
        live: PayoutProvider | None = None,
        test: PayoutProvider | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.live = live
        self.test = test or sandbox

    def for_mode(self, livemode: bool) -> PayoutProvider:
        if not livemode:
            return self.test
        if self.live is None:
            raise ProviderNotConfigured("no payout provider is configured for live mode")
        return self.live

    def by_name(self, name: str) -> PayoutProvider | None:
        if name == self.sandbox.name:
            return self.sandbox
        if self.live is not None and name == self.live.name:
            return self.live
        if name == self.test.name:
            return self.test
        return None
