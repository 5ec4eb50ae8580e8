"""What the edge hands to webhook resolvers and the deliverer: the policy and the secret box."""

from __future__ import annotations

from dataclasses import dataclass

from services.webhook_endpoints.policy import WebhookPolicy
from services.webhook_endpoints.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class WebhookEndpoints:
    policy: WebhookPolicy
    box: SecretBox

    @classmethod
    def build(cls, policy: WebhookPolicy, secret_key: str) -> WebhookEndpoints:
        return cls(policy, SecretBox(secret_key))
