from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    webhook_url: str  # where the sandbox POSTs its webhooks (…/webhooks/sandbox)
    webhook_secret: str  # Standard Webhooks secret ("whsec_" + base64)
    delay_seconds: float = 2.0  # wait before each simulated webhook
    refuse_transfers: bool = False  # simulate an outage of transfer creation
    # The deliverer is woken when what this process scheduled falls due (``wake_in``); the
    # poll is the backstop for rows other processes left (a process that died), so it is slow.
    poll_seconds: float = 1.0
    request_timeout_seconds: float = 5.0
    max_backoff_seconds: float = 30.0
    # How long a claimed delivery is left alone; a deliverer that died holding it blocks it
    # that long (the receiver dedupes a double delivery, so shorter is safe, just noisier).
    delivery_lease_seconds: float = 30.0
