"""Domain errors in the platform's error envelope: every code has a status and a type, field
paths become the body's dotted camelCase paths, and the SDKs' validation shape holds."""

from __future__ import annotations

from api.rest.errors import DOMAIN_ERRORS, from_domain
from services.errors import DomainError, ErrorCode, NotFound, ValidationFailed, validation_error


def test_every_error_code_has_a_status_and_a_type() -> None:
    assert set(ErrorCode) <= set(DOMAIN_ERRORS)
    for code in ErrorCode:
        kind = DOMAIN_ERRORS[code]
        assert 400 <= kind.status < 600
        assert kind.type.endswith("_error")


def test_validation_failures_list_each_field_for_the_sdks() -> None:
    failed = ValidationFailed(
        [
            validation_error("must be at least 1000", "input", "amount"),
            validation_error("is not valid", "input", "individual", "address", "country"),
        ]
    )
    error = from_domain(failed, {})
    assert (error.status, error.type, error.code, error.param) == (
        422,
        "validation_error",
        "validation_error",
        "amount",
    )
    assert error.details == [
        {"field": "amount", "message": "must be at least 1000"},
        {"field": "individual.address.country", "message": "is not valid"},
    ]


def test_business_failures_keep_their_code_in_lower_case() -> None:
    error = from_domain(DomainError(ErrorCode.INSUFFICIENT_BALANCE, "not enough"), {})
    assert (error.status, error.type, error.code, error.message) == (
        400,
        "billing_error",
        "insufficient_balance",
        "not enough",
    )
    assert error.details is None
    sandbox = from_domain(DomainError(ErrorCode.TEST_MODE_ONLY, "test keys only"), {})
    assert (sandbox.status, sandbox.code) == (403, "sandbox_only")


def test_missing_objects_are_named_and_path_parameters_renamed() -> None:
    group = from_domain(NotFound("plan group", ["input", "planGroupId"]), {"planGroupId": "id"})
    plan = from_domain(NotFound("plan", ["input", "planId"]), {})
    other = from_domain(NotFound("payout", ["input", "payoutId"]), {})
    assert (group.status, group.code, group.param) == (404, "plan_group_not_found", "id")
    assert (plan.code, plan.param) == ("plan_not_found", "planId")
    assert other.code == "not_found"


def test_page_fields_take_the_rest_names() -> None:
    error = from_domain(DomainError(ErrorCode.VALIDATION_ERROR, "bad cursor", ["after"]), {})
    assert error.param == "cursor"
