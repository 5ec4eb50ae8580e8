"""Input rules of ``completeVerification`` and ``addBankAccount`` (SPEC §3.2, §3.3).

Error messages never echo the value given (it may be an ID number or an account number).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from models.base import utcnow
from services.errors import DomainError, ErrorCode, ValidationFailed
from services.payout_accounts.countries import ISO_COUNTRIES
from services.sensitive import normalize_number
from services.validation import validate

MIN_AGE_YEARS = 18
MAX_AGE_YEARS = 120
MAX_URL_LENGTH = 2048

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-.]{7,20}$")]
PostalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9 \-]{2,12}$")
]
Last4 = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
IdNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z\-]{4,20}$")
]
TaxId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z\-]{6,20}$")]


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("must be a valid email address") from None


def _https_url(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError("must be a valid https URL") from None
    if parts.scheme != "https" or not host:
        raise ValueError("must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials")
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_COUNTRIES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def _account_number(value: str) -> str:
    digits = normalize_number(value)
    if not re.fullmatch(r"[0-9 \-]+", value.strip()) or not 4 <= len(digits) <= 17:
        raise ValueError("must be 4 to 17 digits")
    return digits


def _routing_number(value: str) -> str:
    digits = normalize_number(value)
    if not re.fullmatch(r"[0-9 \-]+", value.strip()) or len(digits) != 9:
        raise ValueError("must be 9 digits")
    return digits


def _date_of_birth(value: str) -> str:
    try:
        born = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("must be a date in YYYY-MM-DD format") from None
    today = utcnow().date()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if born > today:
        raise ValueError("must not be in the future")
    if age < MIN_AGE_YEARS:
        raise ValueError(f"the account holder must be at least {MIN_AGE_YEARS} years old")
    if age > MAX_AGE_YEARS:
        raise ValueError("is not a plausible date of birth")
    return born.isoformat()


Email = Annotated[str, AfterValidator(_email)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Country = Annotated[str, AfterValidator(_country)]
AccountNumber = Annotated[str, AfterValidator(_account_number)]
RoutingNumber = Annotated[str, AfterValidator(_routing_number)]
DateOfBirth = Annotated[str, AfterValidator(_date_of_birth)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Strict):
    line1: Text
    line2: Text | None = None
    city: Text
    state: Text | None = None
    postal_code: PostalCode
    country: Country


class Bank(_Strict):
    account_number: AccountNumber
    account_holder_name: Text
    routing_number: RoutingNumber | None = None
    account_type: Literal["CHECKING", "SAVINGS"] | None = None


class Individual(_Strict):
    first_name: Name
    last_name: Name
    phone: Phone
    date_of_birth: DateOfBirth
    ssn_last4: Last4 | None = None
    id_number: IdNumber | None = None
    address: Address


class Representative(_Strict):
    first_name: Name
    last_name: Name
    phone: Phone | None = None
    email: Email | None = None


class Company(_Strict):
    name: Text
    tax_id: TaxId
    address: Address
    representative: Representative


class Verification(_Strict):
    email: Email
    business_type: Literal["INDIVIDUAL", "COMPANY"]
    business_url: HttpsUrl
    document_url: HttpsUrl
    bank: Bank
    individual: Individual | None = None
    company: Company | None = None

    @property
    def country(self) -> str:
        holder = self.individual or self.company
        assert holder is not None
        return holder.address.country


class NewBankAccount(_Strict):
    account_number: AccountNumber
    account_holder_name: Text
    routing_number: RoutingNumber | None = None
    account_type: Literal["CHECKING", "SAVINGS"] | None = None
    set_default: bool = False


def validate_verification(data: dict[str, Any]) -> Verification:
    """The whole input, or ``ValidationFailed`` listing every problem with its field path."""
    data = {k: v for k, v in data.items() if k != "idempotency_key"}
    problems = _branch_problems(data)
    try:
        parsed = validate(Verification, data)
    except ValidationFailed as failed:
        raise ValidationFailed([*failed.errors, *problems]) from None
    if problems:
        raise ValidationFailed(problems)
    return parsed


def validate_new_bank_account(data: dict[str, Any]) -> NewBankAccount:
    return validate(NewBankAccount, {k: v for k, v in data.items() if k != "idempotency_key"})


def _branch_problems(data: dict[str, Any]) -> list[DomainError]:
    kind = data.get("business_type")
    wanted, unwanted = (
        ("individual", "company") if kind == "INDIVIDUAL" else ("company", "individual")
    )
    if kind not in ("INDIVIDUAL", "COMPANY"):
        return []
    problems = []
    if data.get(wanted) is None:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"required when businessType is {kind}",
                ["input", wanted],
            )
        )
    if data.get(unwanted) is not None:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"must be omitted when businessType is {kind}",
                ["input", unwanted],
            )
        )
    return problems
