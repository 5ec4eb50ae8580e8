"""SPEC §3.9 settings: which provider serves which mode, and the refusals that keep a live
provider from starting in an unsafe configuration."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api.app import create_app
from api.settings import Settings
from providers.sandbox import SandboxProvider
from providers.stripe import StripeProvider

OWN_SECRET = "an-operator-chosen-secret-key-0123456789"


def settings(**values: Any) -> Settings:
    return Settings.model_validate({"_env_file": None, **values})


def test_a_secret_key_makes_stripe_the_live_provider() -> None:
    chosen = settings(
        secret_key=OWN_SECRET,
        stripe_secret_key="sk_live_abc",
        stripe_webhook_secret="whsec_a,whsec_b",
    )
    assert chosen.live_provider_name == "stripe"
    assert chosen.test_provider == "sandbox"
    assert chosen.stripe_webhook_secrets == ("whsec_a", "whsec_b")


def test_without_stripe_settings_live_mode_has_no_provider() -> None:
    assert settings().live_provider_name == "none"


def test_a_live_provider_refuses_the_development_secret_key() -> None:
    with pytest.raises(ValidationError, match="PAYOUTS_SECRET_KEY"):
        settings(stripe_secret_key="sk_live_abc", stripe_webhook_secret="whsec_a")


@pytest.mark.parametrize(
    "values",
    [
        {"live_provider": "stripe"},  # no key
        {"stripe_secret_key": "sk_live_abc"},  # no webhook secret
        {"stripe_secret_key": "sk_test_abc", "stripe_webhook_secret": "whsec_a"},  # test key
        {
            "stripe_secret_key": "sk_live_abc",
            "stripe_webhook_secret": "whsec_a",
            "test_provider": "stripe",
            "live_provider": "none",
        },  # real money in test mode
        {"stripe_secret_key": "pk_live_abc", "stripe_webhook_secret": "whsec_a"},
    ],
)
def test_unsafe_or_incomplete_stripe_settings_are_refused(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        settings(secret_key=OWN_SECRET, **values)


def test_test_mode_can_run_on_stripe_test_keys() -> None:
    chosen = settings(
        secret_key=OWN_SECRET,
        stripe_secret_key="sk_test_abc",
        stripe_webhook_secret="whsec_a",
        test_provider="stripe",
    )
    assert (chosen.live_provider_name, chosen.test_provider) == ("none", "stripe")


def test_the_composition_root_selects_the_providers(tmp_path: object) -> None:
    app = create_app(
        settings(
            secret_key=OWN_SECRET,
            stripe_secret_key="sk_live_abc",
            stripe_webhook_secret="whsec_a",
            stripe_api_base="http://127.0.0.1:9",
        )
    )
    registry = app.state.payouts.providers
    assert isinstance(registry.for_mode(True), StripeProvider)
    assert isinstance(registry.for_mode(False), SandboxProvider)
    assert registry.by_name("stripe") is registry.for_mode(True)
