"""Connected accounts the platform controls: KYC → Stripe parameters, the identity document
through the Files API, external bank accounts.

Every call carries an idempotency key derived from the request's key and a digest of what is
sent: a retry replays Stripe's first answer, a corrected retry (other values) is a new request
instead of an ``idempotency_error``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import stripe
from stripe.params import (
    AccountCreateParams,
    AccountExternalAccountCreateParams,
    AccountPersonCreateParams,
    AccountUpdateParams,
    FileCreateParams,
)
from stripe.params._account_create_params import (
    AccountCreateParamsIndividual,
    AccountCreateParamsTosAcceptance,
)
from stripe.params._account_external_account_create_params import (
    AccountExternalAccountCreateParamsBankAccount,
)

from providers.base import (
    AccountRequest,
    BankDetails,
    ConnectedAccount,
    Document,
    ExternalAccount,
)
from providers.stripe.client import call
from providers.stripe.events import account_state

_ADDRESS = ("line1", "line2", "city", "state", "postal_code", "country")


class StripeAccounts:
    client: stripe.StripeClient

    async def create_account(self, request: AccountRequest) -> ConnectedAccount:
        key = request.idempotency_key
        params = _account_params(request)
        account = await call(
            "account creation",
            self.client.v1.accounts.create_async(params, _options(key, "account", params)),
            field_of=_account_field,
        )
        if request.document is not None and request.document.content:
            file_id = await self._upload_document(account.id, request.document, key)
            await self._attach_document(account.id, request, file_id, key)
        external = await self.add_external_account(
            account.id, request.bank, idempotency_key=f"{key}:bank", default=True
        )
        account = await call(
            "account retrieval", self.client.v1.accounts.retrieve_async(account.id)
        )
        status, enabled = account_state(account)
        return ConnectedAccount(
            id=account.id, status=status, transfers_enabled=enabled, external_account=external
        )

    async def add_external_account(
        self, account_id: str, bank: BankDetails, *, idempotency_key: str, default: bool = False
    ) -> ExternalAccount:
        params: AccountExternalAccountCreateParams = {"external_account": _bank_params(bank)}
        if default:
            params["default_for_currency"] = True
        created = await call(
            "external account creation",
            self.client.v1.accounts.external_accounts.create_async(
                account_id, params, _options(idempotency_key, "external-account", params)
            ),
            field_of=_bank_field,
        )
        return ExternalAccount(
            id=created.id,
            bank_name=getattr(created, "bank_name", None),
            last4=str(getattr(created, "last4", "")),
            status="errored" if getattr(created, "status", "") == "errored" else "active",
        )

    async def _upload_document(self, account_id: str, document: Document, key: str) -> str:
        upload = io.BytesIO(document.content)
        upload.name = f"identity-document.{_extension(document.content_type)}"
        params: FileCreateParams = {"purpose": "identity_document", "file": upload}
        # The file belongs to the connected account (Stripe-Account), as Stripe requires for
        # verification documents; the key names the document by its digest.
        created = await call(
            "identity document upload",
            self.client.v1.files.create_async(
                params,
                {
                    "stripe_account": account_id,
                    "idempotency_key": f"{key}:document-file:{document.sha256[:32]}",
                },
            ),
            field_of=_document_field,
        )
        return str(created.id)

    async def _attach_document(
        self, account_id: str, request: AccountRequest, file_id: str, key: str
    ) -> None:
        if request.business_type == "individual":
            params: AccountUpdateParams = {
                "individual": {"verification": {"document": {"front": file_id}}}
            }
            await call(
                "identity document attachment",
                self.client.v1.accounts.update_async(
                    account_id, params, _options(key, "document", params)
                ),
            )
            return
        person = _representative_params(request.company or {}, file_id)
        await call(
            "representative creation",
            self.client.v1.accounts.persons.create_async(
                account_id, person, _options(key, "representative", person)
            ),
            field_of=_representative_field,
        )


def _options(key: str, step: str, params: Mapping[str, Any]) -> Any:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
    return {"idempotency_key": f"{key}:{step}:{digest[:32]}"}


def _account_params(request: AccountRequest) -> AccountCreateParams:
    """The platform controls the account: it collects requirements and carries losses and
    fees; the merchant gets no Stripe-hosted dashboard (the old "Custom" account)."""
    params: AccountCreateParams = {
        "country": request.country,
        "email": request.email,
        "business_type": "company" if request.business_type == "company" else "individual",
        "business_profile": {"url": request.business_url},
        "controller": {
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
            "requirement_collection": "application",
            "stripe_dashboard": {"type": "none"},
        },
        "capabilities": {"transfers": {"requested": True}},
        "default_currency": request.bank.currency,
    }
    tos: AccountCreateParamsTosAcceptance = {}
    if request.tos_accepted_at is not None:
        tos["date"] = int(request.tos_accepted_at.timestamp())
    if request.tos_ip:
        tos["ip"] = request.tos_ip
    if tos:
        params["tos_acceptance"] = tos
    if request.business_type == "individual" and request.individual is not None:
        params["individual"] = _individual_params(request.email, request.individual)
    elif request.company is not None:
        company = request.company
        params["company"] = {
            "name": company["name"],
            "tax_id": company["tax_id"],
            "address": _address(company["address"]),  # type: ignore[typeddict-item]
        }
    return params


def _individual_params(email: str, person: Mapping[str, Any]) -> AccountCreateParamsIndividual:
    params: AccountCreateParamsIndividual = {
        "email": email,
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "phone": person["phone"],
        "address": _address(person["address"]),  # type: ignore[typeddict-item]
    }
    if person.get("date_of_birth"):
        born = date.fromisoformat(str(person["date_of_birth"]))
        params["dob"] = {"day": born.day, "month": born.month, "year": born.year}
    if person.get("id_number"):
        params["id_number"] = person["id_number"]
    if person.get("ssn_last4"):
        params["ssn_last_4"] = person["ssn_last4"]
    return params


def _representative_params(company: Mapping[str, Any], file_id: str) -> AccountPersonCreateParams:
    person = company.get("representative") or {}
    params: AccountPersonCreateParams = {
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "relationship": {"representative": True},
        "verification": {"document": {"front": file_id}},
    }
    if person.get("phone"):
        params["phone"] = person["phone"]
    if person.get("email"):
        params["email"] = person["email"]
    return params


def _address(address: Mapping[str, Any]) -> dict[str, str]:
    """Stripe's address hash (the same keys on accounts, companies and persons)."""
    return {key: str(address[key]) for key in _ADDRESS if address.get(key)}


def _bank_params(bank: BankDetails) -> AccountExternalAccountCreateParamsBankAccount:
    params: AccountExternalAccountCreateParamsBankAccount = {
        "object": "bank_account",
        "country": bank.country,
        "currency": bank.currency,
        "account_number": bank.account_number,
        "account_holder_name": bank.holder_name,
    }
    if bank.routing_number:
        params["routing_number"] = bank.routing_number
    return params


def _extension(content_type: str) -> str:
    return {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(
        content_type, "bin"
    )


_BRACKETS = re.compile(r"\[([^\]]*)\]")


def _param_path(param: str) -> list[str]:
    head, _, _ = param.partition("[")
    return [head, *_BRACKETS.findall(param)]


def _holder_field(prefix: tuple[str, ...], path: list[str]) -> tuple[str, ...] | None:
    if not path:
        return None
    name = path[0]
    if name == "dob":
        return (*prefix, "date_of_birth")
    if name == "address" and len(path) > 1:
        return (*prefix, "address", path[1])
    if name == "ssn_last_4":
        return (*prefix, "ssn_last4")
    if name == "verification":
        return ("document_url",)
    if name in ("first_name", "last_name", "phone", "id_number", "name", "tax_id"):
        return (*prefix, name)
    if name == "email":
        return (*prefix, "email") if prefix[-1:] == ("representative",) else ("email",)
    return None


def _account_field(param: str) -> tuple[str, ...] | None:
    """Which of the merchant's values a Stripe ``param`` of account creation names."""
    path = _param_path(param)
    top = path[0]
    if top == "email":
        return ("email",)
    if top == "business_profile":
        return ("business_url",)
    if top in ("individual", "company"):
        return _holder_field((top,), path[1:])
    if top == "external_account":
        return _bank_field(param)
    return None


def _document_field(param: str) -> tuple[str, ...] | None:
    return ("document_url",) if param == "file" else None


def _representative_field(param: str) -> tuple[str, ...] | None:
    return _holder_field(("company", "representative"), _param_path(param))


def _bank_field(param: str) -> tuple[str, ...] | None:
    path = _param_path(param)
    name = path[-1]
    mapped = {
        "account_number": "account_number",
        "routing_number": "routing_number",
        "account_holder_name": "holder_name",
        "account_type": "account_type",
    }.get(name)
    return ("bank", mapped) if mapped else None
