"""How a provider's refusal reaches the merchant (issue 13: errors)."""

from __future__ import annotations

import pytest

from providers.base import ProviderAuthError, ProviderError, ProviderInputError, ProviderUnavailable
from services.provider_failures import provider_failure


@pytest.mark.parametrize(
    ("field", "under", "path"),
    [
        (("bank", "routing_number"), (), ["input", "bank", "routingNumber"]),
        (("bank", "routing_number"), ("bank",), ["input", "routingNumber"]),
        (("bank", "holder_name"), ("bank",), ["input", "accountHolderName"]),
        (("individual", "date_of_birth"), (), ["input", "individual", "dateOfBirth"]),
        (("individual", "ssn_last4"), (), ["input", "individual", "ssnLast4"]),
        (
            ("individual", "address", "postal_code"),
            (),
            ["input", "individual", "address", "postalCode"],
        ),
        (
            ("company", "representative", "first_name"),
            (),
            ["input", "company", "representative", "firstName"],
        ),
        (("document_url",), (), ["input", "documentUrl"]),
    ],
)
def test_refused_input_is_a_validation_error_on_its_field(
    field: tuple[str, ...], under: tuple[str, ...], path: list[str]
) -> None:
    error = provider_failure(ProviderInputError("Routing number is invalid", field), under=under)
    assert (error.code, error.field) == ("VALIDATION_ERROR", path)
    assert "Routing number is invalid" in error.message


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ProviderAuthError("Stripe refused the API key"), "PROVIDER_NOT_CONFIGURED"),
        (ProviderUnavailable("Stripe timed out"), "PROVIDER_UNAVAILABLE"),
        (ProviderError("Stripe refused"), "PROVIDER_ERROR"),
    ],
)
def test_other_refusals_name_no_field_and_leak_no_detail(exc: ProviderError, code: str) -> None:
    error = provider_failure(exc)
    assert (error.code, error.field) == (code, None)
    assert "Stripe" not in error.message
