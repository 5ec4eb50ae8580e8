"""The knobs of outbound webhooks, built from settings at the edge."""

from __future__ import annotations

from dataclasses import dataclass

# SPEC §3.10: after the first attempt, retries after 1 min, 5 min, 15 min, 30 min, 1 h, 1 h, 1 h.
DEFAULT_RETRY_SCHEDULE = (60.0, 300.0, 900.0, 1800.0, 3600.0, 3600.0, 3600.0)


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    allow_private_urls: bool = False
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    retry_jitter: float = 0.1  # each delay is stretched or shrunk by up to this fraction
    rotation_overlap_seconds: float = 24 * 3600.0
    timeout_seconds: float = 10.0
    # A claimed delivery is not due again before this, so it must outlast an attempt.
    lease_seconds: float = 60.0
    concurrency: int = 32  # attempts in flight per process
    endpoint_concurrency: int = 8  # attempts in flight per endpoint and process
    disable_after_failed_events: int = 3
    poll_interval_seconds: float = 0.25
    max_endpoints: int = 16  # per organization and mode

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1
