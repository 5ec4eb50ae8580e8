"""Outbound webhook building blocks: signatures as the official SDKs check them, sealed
secrets, the URL guard (resolution injected, every check real) and the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from commet import Commet
from pydantic import ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from api.settings import Settings
from services.webhook_endpoints.secrets import SecretBox, new_secret
from services.webhook_endpoints.signing import delivery_headers
from services.webhook_endpoints.transport import WebhookTransport
from services.webhook_endpoints.urls import UrlRejected, check_url

SDK = Commet(api_key="ck_test_unit", telemetry=False)
BODY = '{"id":"whev_1","event":"payout.paid","data":{"amount":1000,"note":"café"}}'


def headers_for(secrets: list[str], sent_at: datetime | None = None) -> dict[str, str]:
    return delivery_headers(
        body=BODY,
        event_id="whev_1",
        event_type="payout.paid",
        event_timestamp="2026-12-03T08:00:00.000Z",
        secrets=secrets,
        sent_at=sent_at or datetime.now(UTC),
    )


def test_both_schemes_verify_with_the_official_libraries() -> None:
    secret = new_secret()
    headers = headers_for([secret])
    assert SDK.webhooks.verify(payload=BODY, signature=headers["X-Commet-Signature"], secret=secret)
    assert SDK.webhooks.verify_and_parse(
        raw_body=BODY, signature=headers["X-Commet-Signature"], secret=secret
    ) == {"id": "whev_1", "event": "payout.paid", "data": {"amount": 1000, "note": "café"}}
    assert Webhook(secret).verify(BODY, headers) is not None
    assert headers["X-Commet-Event"] == "payout.paid"
    assert headers["X-Commet-Event-Id"] == headers["webhook-id"] == "whev_1"
    assert "X-Commet-Signature-Previous" not in headers
    other = new_secret()
    assert not SDK.webhooks.verify(
        payload=BODY, signature=headers["X-Commet-Signature"], secret=other
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("1000", "9000"), headers)


def test_during_a_rotation_both_secrets_sign() -> None:
    new, old = new_secret(), new_secret()
    headers = headers_for([new, old])
    assert SDK.webhooks.verify(payload=BODY, signature=headers["X-Commet-Signature"], secret=new)
    assert SDK.webhooks.verify(
        payload=BODY, signature=headers["X-Commet-Signature-Previous"], secret=old
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        Webhook(secret).verify(BODY, headers)


def test_standard_webhooks_timestamp_is_the_attempt_and_is_checked() -> None:
    secret = new_secret()
    stale = headers_for([secret], sent_at=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, stale)


def test_secrets_are_sealed_per_endpoint_and_key() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) == 6 + 44
    box = SecretBox("server-secret")
    sealed = box.seal(secret, "we_1")
    assert secret not in sealed and secret[6:] not in sealed
    assert box.open(sealed, "we_1") == secret
    assert box.seal(secret, "we_1") != sealed  # a fresh nonce every time
    with pytest.raises(ValueError):
        box.open(sealed, "we_2")  # copied onto another endpoint
    with pytest.raises(ValueError):
        SecretBox("another-server-secret").open(sealed, "we_1")


def resolving_to(*addresses: str):
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def unresolvable(host: str, port: int) -> list[str]:
    raise OSError("no such host")


async def test_a_name_resolving_inward_is_refused_when_saved() -> None:
    with pytest.raises(UrlRejected):
        await check_url(
            "https://hooks.example.com/x", allow_private=False, resolver=resolving_to("10.0.0.5")
        )
    with pytest.raises(UrlRejected):
        await check_url(
            "https://hooks.example.com/x",
            allow_private=False,
            resolver=resolving_to("93.184.216.34", "127.0.0.1"),
        )
    ok = await check_url(
        " https://hooks.example.com/x?y=1 ",
        allow_private=False,
        resolver=resolving_to("93.184.216.34"),
    )
    assert ok == "https://hooks.example.com/x?y=1"
    # Not resolvable yet: kept, and checked again on every delivery.
    assert await check_url("https://later.example.com/", allow_private=False, resolver=unresolvable)


async def test_private_targets_only_with_the_setting() -> None:
    for url in ("http://127.0.0.1:8080/hook", "https://localhost/hook", "http://10.0.0.1/"):
        with pytest.raises(UrlRejected):
            await check_url(url, allow_private=False, resolver=unresolvable)
        assert await check_url(url, allow_private=True, resolver=unresolvable) == url


async def test_loopback_in_disguise_is_refused() -> None:
    # Numeric forms the system resolver turns into 127.0.0.1 (no DNS involved).
    for url in (
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://127.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[fe80::1%25eth0]/x",
        "https://%7a%7a/x",
        "https://bad%host/x",
    ):
        with pytest.raises(UrlRejected):
            await check_url(url, allow_private=False)


async def test_delivery_to_a_name_that_now_resolves_inward_is_refused() -> None:
    transport = WebhookTransport(allow_private=False, resolver=resolving_to("127.0.0.1"))
    try:
        outcome = await transport.post("https://rebound.example.com/hook", b"{}", {})
    finally:
        await transport.close()
    assert outcome.status_code is None and not outcome.succeeded
    assert outcome.error is not None and "non-public" in outcome.error


async def test_delivery_refuses_plain_http_without_the_setting() -> None:
    transport = WebhookTransport(allow_private=False, resolver=resolving_to("93.184.216.34"))
    try:
        outcome = await transport.post("http://hooks.example.com/hook", b"{}", {})
    finally:
        await transport.close()
    assert outcome.error is not None and "https" in outcome.error


def test_retry_schedule_setting() -> None:
    settings = Settings(webhook_retry_schedule="1, 2.5,0")
    assert settings.webhook_retry_schedule == [1.0, 2.5, 0.0]
    assert settings.webhook_policy().max_attempts == 4
    assert Settings().webhook_policy().retry_schedule == (60, 300, 900, 1800, 3600, 3600, 3600)
    with pytest.raises(ValidationError):
        Settings(webhook_retry_schedule="-1")
    with pytest.raises(ValidationError):
        Settings(webhook_lease_seconds=5, webhook_timeout_seconds=10)
