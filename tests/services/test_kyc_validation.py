"""completeVerification input rules, field paths, and messages that never echo the value."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.errors import ValidationFailed
from services.payout_accounts.validation import validate_new_bank_account, validate_verification


def valid() -> dict[str, Any]:
    return {
        "email": "Ada@Example.com",
        "business_type": "INDIVIDUAL",
        "business_url": "https://ada.example.com",
        "document_url": "https://docs.sandbox.test/id.pdf",
        "bank": {"account_number": "0001-2345-6789", "account_holder_name": " Ada "},
        "individual": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+1 415 555 0100",
            "date_of_birth": "1985-12-10",
            "id_number": "123456789",
            "address": {
                "line1": "1 Way",
                "city": "Boston",
                "postal_code": "02110",
                "country": "us",
            },
        },
    }


def problems(data: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    with pytest.raises(ValidationFailed) as failed:
        validate_verification(data)
    return [(e.field, e.message) for e in failed.value.errors]


def test_valid_input_is_normalized() -> None:
    parsed = validate_verification(valid())
    assert parsed.email == "Ada@example.com"
    assert parsed.bank.account_number == "000123456789"
    assert parsed.bank.account_holder_name == "Ada"
    assert parsed.country == "US"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("email",), "ada@", ["input", "email"]),
        (("business_url",), "https://", ["input", "businessUrl"]),
        (("document_url",), "https://user:pw@docs.example.com/x.pdf", ["input", "documentUrl"]),
        (("document_url",), "https://a.com:99999/x", ["input", "documentUrl"]),
        (("document_url",), "https://a.com/" + "x" * 2100, ["input", "documentUrl"]),
        (("individual", "address", "country"), "ZZ", ["input", "individual", "address", "country"]),
        (("individual", "date_of_birth"), "1985-02-30", ["input", "individual", "dateOfBirth"]),
        (("individual", "phone"), "call me", ["input", "individual", "phone"]),
        (("individual", "id_number"), "12", ["input", "individual", "idNumber"]),
        (("bank", "routing_number"), "12345678", ["input", "bank", "routingNumber"]),
        (("bank", "account_number"), "12345678901234567890", ["input", "bank", "accountNumber"]),
    ],
)
def test_each_invalid_field_is_reported_with_its_path(
    path: tuple[str, ...], value: str, field: list[str]
) -> None:
    data = copy.deepcopy(valid())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    found = problems(data)
    assert [f for f, _ in found] == [field]
    assert all(value not in message for _, message in found)


def test_company_branch_requires_company_and_forbids_individual() -> None:
    data = valid()
    data["business_type"] = "COMPANY"
    fields = [f for f, _ in problems(data)]
    assert fields == [["input", "company"], ["input", "individual"]]


def test_individual_branch_forbids_company() -> None:
    data = valid()
    data["company"] = {"name": "X"}
    fields = [f for f, _ in problems(data)]
    assert ["input", "company"] in fields


def test_every_problem_is_listed_at_once() -> None:
    data = valid()
    data["email"] = "nope"
    data["bank"]["account_number"] = "1"
    data["individual"]["date_of_birth"] = "2999-01-01"
    assert len(problems(data)) == 3


def test_new_bank_account_rules() -> None:
    parsed = validate_new_bank_account(
        {"account_number": "12 34 56", "account_holder_name": "Ada", "set_default": True}
    )
    assert parsed.account_number == "123456" and parsed.set_default
    with pytest.raises(ValidationFailed) as failed:
        validate_new_bank_account({"account_number": "12x", "account_holder_name": ""})
    assert sorted(e.field or [] for e in failed.value.errors) == [
        ["input", "accountHolderName"],
        ["input", "accountNumber"],
    ]
