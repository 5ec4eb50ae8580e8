"""Request bodies and query strings, written from the official SDKs' documented parameters
(``commet/docs/api-reference/{payouts,plan-groups}.md``, ``@commet/node``'s ``*Params``).

These models check the wire shape only (names, JSON types, required fields, enums, unknown
fields refused); every business rule (minimum amount, formats, ...) stays in ``services/``,
shared with GraphQL: ``documented`` puts a service's limit in the OpenAPI document without
checking it a second time here. ``service_input`` turns a body into the dict the service validates.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.rest.wire import Body, SafeInt, Text
from models.plan import PLAN_CODE_MAX_LENGTH
from services.pagination import MAX_PAGE_SIZE
from services.payouts.service import MAX_DESCRIPTION, MIN_PAYOUT

DEFAULT_LIMIT = 25  # the platform's default page size


def service_input(body: BaseModel) -> dict[str, Any]:
    """snake_case keys and the services' upper-case enum values (``checking`` → ``CHECKING``)."""
    return _upper_enums(body.model_dump(exclude_none=True))


_ENUM_FIELDS = {"account_type", "business_type"}


def _upper_enums(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: v.upper() if k in _ENUM_FIELDS and isinstance(v, str) else _upper_enums(v)
            for k, v in value.items()
        }
    return value


AccountType = Literal["checking", "savings"]


def documented(**schema: Any) -> dict[str, Any]:
    """For ``json_schema_extra``: what a service enforces, shown in the document."""
    return schema


class RequestPayoutBody(Body):
    amount: SafeInt = Field(
        description="Cents, of the organization's payout currency.",
        json_schema_extra=documented(minimum=MIN_PAYOUT),
    )
    description: Text | None = Field(
        default=None, json_schema_extra=documented(maxLength=MAX_DESCRIPTION)
    )


class AddBankAccountBody(Body):
    account_number: Text
    account_holder_name: Text
    routing_number: Text | None = None
    account_type: AccountType | None = None
    set_default: bool | None = Field(default=None, description="Default false.")


class AddressBody(Body):
    line1: Text
    line2: Text | None = None
    city: Text
    state: Text | None = None
    postal_code: Text
    country: Text = Field(description="ISO 3166-1 alpha-2.")


class BankBody(Body):
    account_number: Text
    account_holder_name: Text
    routing_number: Text | None = None
    account_type: AccountType | None = None


class IndividualBody(Body):
    first_name: Text
    last_name: Text
    phone: Text
    date_of_birth: Text = Field(description="YYYY-MM-DD; never stored or returned.")
    ssn_last4: Text | None = None
    id_number: Text | None = None
    address: AddressBody


class RepresentativeBody(Body):
    first_name: Text
    last_name: Text
    phone: Text | None = None
    email: Text | None = None


class CompanyBody(Body):
    name: Text
    tax_id: Text
    address: AddressBody
    representative: RepresentativeBody


class CompleteVerificationBody(Body):
    email: Text
    business_type: Literal["individual", "company"]
    business_url: Text
    document_url: Text = Field(description="https, public addresses only; downloaded once.")
    bank: BankBody
    individual: IndividualBody | None = Field(
        default=None, description="Required when businessType is individual."
    )
    company: CompanyBody | None = Field(
        default=None, description="Required when businessType is company."
    )


class CreatePlanGroupBody(Body):
    name: Text
    description: Text | None = None
    is_public: bool | None = None


class UpdatePlanGroupBody(Body):
    name: Text | None = None
    description: Text | None = Field(
        default=None, description="An empty string or null clears the description."
    )
    is_public: bool | None = None


class AddPlanToGroupBody(Body):
    plan_id: Text
    sort_order: SafeInt | None = Field(
        default=None, description="Position, 0 first; omitted appends."
    )


class ReorderPlansBody(Body):
    plan_ids: list[Text] = Field(description="Every plan of the group exactly once, in order.")


class CreatePlanBody(Body):
    name: Text
    code: Text = Field(
        description="Unique per organization and mode.",
        json_schema_extra=documented(pattern="^[a-z0-9_]+$", maxLength=PLAN_CODE_MAX_LENGTH),
    )
    currencies: list[Text] | None = Field(
        default=None,
        description="ISO 4217 codes the plan is priced in; the organization's currency when "
        "omitted.",
    )
    plan_group_id: Text | None = Field(default=None, description="Append to this plan group.")


class ListQuery(BaseModel):
    """``?limit=&cursor=`` (query strings are text: ``limit`` is parsed from it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_PAGE_SIZE)
    cursor: Text | None = None
