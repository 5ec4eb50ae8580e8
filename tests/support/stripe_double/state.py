"""The double's objects, shaped as Stripe's API reference shows them, and the rules that change
them. Everything is guarded by one lock: the HTTP server runs in its own thread, tests read and
steer from theirs."""

from __future__ import annotations

import copy
import hashlib
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.stripe_double.errors import StripeError

ALPHABET = string.ascii_letters + string.digits
# Stripe's documented US test bank accounts: the account number decides the payout's fate.
TEST_ACCOUNT_OUTCOMES = {
    "000111111116": ("no_account", "The bank account details on file are probably incorrect."),
    "000111111113": ("account_closed", "The bank account has been closed."),
    "000222222227": ("insufficient_funds", "The bank account has insufficient funds."),
    "000333333335": ("debit_not_authorized", "Debit transactions are not approved."),
    "000444444440": ("invalid_currency", "The bank was unable to process this payout."),
}
FAILURE_MESSAGES = dict(TEST_ACCOUNT_OUTCOMES.values())
FILE_MAGIC = ((b"%PDF-", "pdf"), (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"))
BANK_NAMES = {"110000000": "STRIPE TEST BANK"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{''.join(secrets.choice(ALPHABET) for _ in range(24))}"


def now() -> int:
    return int(time.time())


def list_object(url: str, data: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


@dataclass
class StoredResponse:
    fingerprint: str
    status: int
    body: bytes


@dataclass
class State:
    livemode: bool = False
    platform_id: str = field(default_factory=lambda: new_id("acct"))
    platform_balance: dict[str, int] = field(default_factory=lambda: {"usd": 10_000_000_00})
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    persons: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    file_bytes: dict[str, bytes] = field(default_factory=dict)
    file_owner: dict[str, str] = field(default_factory=dict)
    external_accounts: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    account_numbers: dict[str, str] = field(default_factory=dict)
    account_balance: dict[str, dict[str, int]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    reviewed: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- accounts ---------------------------------------------------------------------------

    def account(self, account_id: str, param: str = "account") -> dict[str, Any]:
        found = self.accounts.get(account_id)
        if found is None:
            raise StripeError(
                403 if param == "stripe_account" else 404,
                "invalid_request_error",
                f"The provided key does not have access to account '{account_id}' (or that "
                "account does not exist). Application access may have been revoked.",
                code="account_invalid",
                param=None if param == "stripe_account" else param,
            )
        return found

    def create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        controller = params.get("controller", {})
        _check_controller(controller, params)
        account_id = new_id("acct")
        requested = params.get("capabilities", {}).get("transfers", {}).get("requested")
        business_type = params.get("business_type")
        account: dict[str, Any] = {
            "id": account_id,
            "object": "account",
            "business_profile": {"url": params.get("business_profile", {}).get("url")},
            "business_type": business_type,
            "capabilities": {"transfers": "inactive"} if requested else {},
            "charges_enabled": False,
            "controller": _controller_view(controller),
            "country": params.get("country", "US"),
            "created": now(),
            "default_currency": params.get("default_currency", "usd"),
            "details_submitted": False,
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
            "payouts_enabled": False,
            "requirements": _requirements([], []),
            "tos_acceptance": {
                "date": params.get("tos_acceptance", {}).get("date"),
                "ip": params.get("tos_acceptance", {}).get("ip"),
                "user_agent": params.get("tos_acceptance", {}).get("user_agent"),
            },
            "type": "custom" if _is_custom(controller) else "none",
        }
        self.accounts[account_id] = account
        self.persons[account_id] = {}
        self.external_accounts[account_id] = {}
        self.payouts[account_id] = {}
        self.account_balance[account_id] = {}
        if business_type == "company" or "company" in params:
            account["company"] = _company_view(params.get("company", {}))
        if business_type == "individual" or "individual" in params:
            person = self._new_person(account_id, params.get("individual", {}))
            person["relationship"]["representative"] = True
            account["individual"] = person
        external = params.get("external_account")
        if isinstance(external, dict):
            self.add_external_account(account_id, external, default=True)
        self.refresh_requirements(account_id)
        return account

    def update_account(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        account = self.account(account_id)
        for key in ("email", "business_type", "default_currency"):
            if key in params:
                account[key] = params[key]
        if "metadata" in params:
            _merge_metadata(account, params["metadata"])
        if "individual" in params:
            person = account.get("individual") or self._new_person(account_id, {})
            self._apply_person(account_id, person, params["individual"])
            account["individual"] = person
        if "company" in params:
            account["company"] = {**account.get("company", {}), **_company_view(params["company"])}
        if "tos_acceptance" in params:
            account["tos_acceptance"].update(params["tos_acceptance"])
        if "capabilities" in params and params["capabilities"].get("transfers", {}).get(
            "requested"
        ):
            account["capabilities"].setdefault("transfers", "inactive")
        self.refresh_requirements(account_id)
        return account

    def account_view(self, account_id: str) -> dict[str, Any]:
        account = copy.deepcopy(self.account(account_id))
        externals = list(reversed(self.external_accounts[account_id].values()))
        account["external_accounts"] = list_object(
            f"/v1/accounts/{account_id}/external_accounts", copy.deepcopy(externals)
        )
        return account

    def refresh_requirements(self, account_id: str) -> None:
        """What is still due: the documented minimum the double checks (a person with a name
        and date of birth, an identity document, a default bank account, accepted terms)."""
        account = self.accounts[account_id]
        if str(account["requirements"].get("disabled_reason") or "").startswith("rejected."):
            return
        due: list[str] = []
        person = account.get("individual")
        prefix = "individual"
        if account.get("business_type") == "company":
            prefix = "representative"
            reps = [
                p for p in self.persons[account_id].values() if p["relationship"]["representative"]
            ]
            person = reps[0] if reps else None
            if not account.get("company", {}).get("name"):
                due.append("company.name")
            if not account.get("company", {}).get("tax_id_provided"):
                due.append("company.tax_id")
        if person is None:
            due += [f"{prefix}.first_name", f"{prefix}.last_name", f"{prefix}.dob.day"]
        else:
            for key in ("first_name", "last_name"):
                if not person.get(key):
                    due.append(
                        f"{prefix}.{key}" if prefix == "individual" else f"{person['id']}.{key}"
                    )
            if not person.get("dob", {}).get("year"):
                due.append(f"{prefix}.dob.day")
            if not person["verification"]["document"]["front"]:
                due.append(f"{prefix}.verification.document")
        if not self.external_accounts[account_id]:
            due.append("external_account")
        if not account["tos_acceptance"].get("date") or not account["tos_acceptance"].get("ip"):
            due += ["tos_acceptance.date", "tos_acceptance.ip"]
        pending = [] if due else [f"{prefix}.verification.document"]
        if account_id in self.reviewed and not due:
            return
        account["requirements"] = _requirements(due, pending)
        account["details_submitted"] = not due
        if "transfers" in account["capabilities"]:
            account["capabilities"]["transfers"] = "pending" if not due else "inactive"
        account["payouts_enabled"] = False

    def review_account(
        self, account_id: str, outcome: str, *, due: list[str] | None = None
    ) -> dict[str, Any]:
        """Stripe's verification result: ``verified``, ``requirements_due`` or a
        ``rejected.*`` reason."""
        account = self.account(account_id)
        self.reviewed.add(account_id)
        if outcome == "verified":
            account["requirements"] = _requirements([], [])
            account["capabilities"]["transfers"] = "active"
            account["payouts_enabled"] = True
            account["details_submitted"] = True
        elif outcome == "requirements_due":
            fields = due or ["individual.verification.document"]
            account["requirements"] = {
                **_requirements(fields, []),
                "past_due": list(fields),
                "disabled_reason": "requirements.past_due",
            }
            account["capabilities"]["transfers"] = "inactive"
            account["payouts_enabled"] = False
        elif outcome.startswith("rejected."):
            account["requirements"] = {
                **_requirements([], []),
                "disabled_reason": outcome,
            }
            account["capabilities"]["transfers"] = "inactive"
            account["payouts_enabled"] = False
            account["charges_enabled"] = False
        else:
            raise ValueError(f"unknown review outcome {outcome!r}")
        return account

    # -- persons ----------------------------------------------------------------------------

    def _new_person(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        person: dict[str, Any] = {
            "id": new_id("person"),
            "object": "person",
            "account": account_id,
            "created": now(),
            "metadata": {},
            "relationship": {
                "director": False,
                "executive": False,
                "owner": False,
                "percent_ownership": None,
                "representative": False,
                "title": None,
            },
            "verification": {
                "status": "unverified",
                "document": {"front": None, "back": None, "details": None, "details_code": None},
            },
            "id_number_provided": False,
            "ssn_last_4_provided": False,
        }
        self._apply_person(account_id, person, params)
        self.persons[account_id][person["id"]] = person
        return person

    def _apply_person(
        self, account_id: str, person: dict[str, Any], params: dict[str, Any]
    ) -> None:
        for key in ("first_name", "last_name", "email", "phone", "political_exposure"):
            if key in params:
                person[key] = params[key]
        if "dob" in params:
            person["dob"] = params["dob"]
        if "address" in params:
            person["address"] = {**person.get("address", {}), **params["address"]}
        if params.get("id_number"):
            person["id_number_provided"] = True
        if params.get("ssn_last_4"):
            person["ssn_last_4_provided"] = True
        if "relationship" in params:
            person["relationship"].update(params["relationship"])
        if "metadata" in params:
            _merge_metadata(person, params["metadata"])
        document = params.get("verification", {}).get("document", {})
        for side in ("front", "back"):
            if side in document:
                file_id = document[side]
                self._check_identity_file(account_id, file_id, side)
                person["verification"]["document"][side] = file_id
                person["verification"]["status"] = "pending"

    def _check_identity_file(self, account_id: str, file_id: str, side: str) -> None:
        file = self.files.get(file_id)
        param = f"verification[document][{side}]"
        if file is None or self.file_owner.get(file_id) not in (account_id, self.platform_id):
            raise StripeError.missing("file", file_id, param=param)
        if file["purpose"] != "identity_document":
            raise StripeError.invalid(
                f"The file {file_id} was not uploaded with purpose identity_document.",
                param=param,
                code="file_invalid",
            )

    def create_person(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self.account(account_id)
        person = self._new_person(account_id, params)
        self.refresh_requirements(account_id)
        return person

    def person(self, account_id: str, person_id: str) -> dict[str, Any]:
        found = self.persons.get(account_id, {}).get(person_id)
        if found is None:
            raise StripeError.missing("person", person_id)
        return found

    def update_person(
        self, account_id: str, person_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        person = self.person(account_id, person_id)
        self._apply_person(account_id, person, params)
        self.refresh_requirements(account_id)
        return person

    # -- files ------------------------------------------------------------------------------

    def create_file(
        self, owner: str, purpose: str, filename: str, content: bytes, content_type: str
    ) -> dict[str, Any]:
        # Stripe decides the type from the bytes (the SDK sends application/octet-stream).
        kind = next((k for magic, k in FILE_MAGIC if content.startswith(magic)), None)
        if kind is None:
            raise StripeError.invalid(
                "Invalid file: must be one of the following types: pdf, jpg, png.",
                param="file",
                code="file_invalid",
            )
        if purpose == "identity_document" and len(content) > 10 * 1024 * 1024:
            raise StripeError.invalid(
                "The file must be at most 10MB.", param="file", code="file_invalid"
            )
        file_id = new_id("file")
        file = {
            "id": file_id,
            "object": "file",
            "created": now(),
            "expires_at": None,
            "filename": filename,
            "links": None,
            "purpose": purpose,
            "size": len(content),
            "title": None,
            "type": kind,
            "url": None,  # identity documents are never downloadable
        }
        self.files[file_id] = file
        self.file_bytes[file_id] = content
        self.file_owner[file_id] = owner
        return file

    def file(self, file_id: str) -> dict[str, Any]:
        found = self.files.get(file_id)
        if found is None:
            raise StripeError.missing("file", file_id)
        return found

    # -- external accounts ------------------------------------------------------------------

    def add_external_account(
        self, account_id: str, params: dict[str, Any], *, default: bool
    ) -> dict[str, Any]:
        account = self.account(account_id)
        if isinstance(params, str):
            raise StripeError.missing("token", params, param="external_account")
        number = params["account_number"]
        routing = params.get("routing_number")
        country = params.get("country", "US").upper()
        currency = params.get("currency", account["default_currency"]).lower()
        if country == "US" and (not routing or len(routing) != 9 or not routing.isdigit()):
            raise StripeError.invalid(
                "Routing number must have 9 digits",
                param="external_account[routing_number]",
                code="routing_number_invalid",
            )
        if country == "US" and not _aba_checksum_ok(str(routing)):
            raise StripeError.invalid(
                f"Invalid routing number ({routing}): the check digit does not match.",
                param="external_account[routing_number]",
                code="routing_number_invalid",
            )
        if not number.isdigit() or not 4 <= len(number) <= 17:
            raise StripeError.invalid(
                "You must use a test bank account number in test mode. Try 000123456789 or "
                "see more options at https://stripe.com/docs/connect/testing#account-numbers."
                if not self.livemode
                else "Invalid account number",
                param="external_account[account_number]",
                code="account_number_invalid",
            )
        fingerprint = hashlib.sha256(f"{routing}:{number}".encode()).hexdigest()[:16]
        existing = self.external_accounts[account_id]
        if any(e["fingerprint"] == fingerprint for e in existing.values()):
            raise StripeError.invalid(
                "A bank account with that routing number and account number already exists "
                "for this currency.",
                param="external_account[account_number]",
                code="bank_account_exists",
            )
        first_for_currency = not any(e["currency"] == currency for e in existing.values())
        bank = {
            "id": new_id("ba"),
            "object": "bank_account",
            "account": account_id,
            "account_holder_name": params.get("account_holder_name"),
            "account_holder_type": params.get("account_holder_type"),
            "account_type": params.get("account_type"),
            "available_payout_methods": ["standard"],
            "bank_name": BANK_NAMES.get(routing or "", "STRIPE TEST BANK"),
            "country": country,
            "currency": currency,
            "default_for_currency": False,
            "fingerprint": fingerprint,
            "last4": number[-4:],
            "metadata": params.get("metadata", {}),
            "routing_number": routing,
            "status": "new",
        }
        existing[bank["id"]] = bank
        self.account_numbers[bank["id"]] = number
        if default or first_for_currency:
            self.make_default(account_id, bank["id"])
        self.refresh_requirements(account_id)
        return bank

    def external_account(self, account_id: str, bank_id: str) -> dict[str, Any]:
        found = self.external_accounts.get(account_id, {}).get(bank_id)
        if found is None:
            raise StripeError.missing("external account", bank_id)
        return found

    def make_default(self, account_id: str, bank_id: str) -> None:
        target = self.external_account(account_id, bank_id)
        for bank in self.external_accounts[account_id].values():
            if bank["currency"] == target["currency"]:
                bank["default_for_currency"] = bank["id"] == bank_id

    # -- money ------------------------------------------------------------------------------

    def create_transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        if "amount" not in params:
            raise StripeError.invalid(
                "Missing required param: amount.", param="amount", code="parameter_missing"
            )
        amount, currency = params["amount"], params["currency"].lower()
        if amount < 1:
            raise StripeError.invalid(
                "This value must be greater than or equal to 1.",
                param="amount",
                code="parameter_invalid_integer",
            )
        destination = self.account(params["destination"], param="destination")
        if destination.get("capabilities", {}).get("transfers") != "active":
            raise StripeError.invalid(
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                param="destination",
                code="insufficient_capabilities_for_transfer",
            )
        if self.platform_balance.get(currency, 0) < amount:
            raise StripeError.invalid(
                "You have insufficient available funds in your Stripe account. Try adding "
                "funds directly to your available balance by creating Charges using the "
                "4000000000000077 test card.",
                code="balance_insufficient",
            )
        self.platform_balance[currency] -= amount
        balances = self.account_balance[destination["id"]]
        balances[currency] = balances.get(currency, 0) + amount
        transfer_id = new_id("tr")
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": new_id("txn"),
            "created": now(),
            "currency": currency,
            "description": params.get("description"),
            "destination": destination["id"],
            "destination_payment": new_id("py"),
            "livemode": self.livemode,
            "metadata": params.get("metadata", {}),
            "reversals": list_object(f"/v1/transfers/{transfer_id}/reversals", []),
            "reversed": False,
            "source_transaction": params.get("source_transaction"),
            "source_type": params.get("source_type", "card"),
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        return transfer

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        found = self.transfers.get(transfer_id)
        if found is None:
            raise StripeError.missing("transfer", transfer_id)
        return found

    def reverse_transfer(self, transfer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        transfer = self.transfer(transfer_id)
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = params.get("amount", remaining)
        if amount > remaining or amount < 1:
            raise StripeError.invalid(
                f"Transfer {transfer_id} has only {remaining} left to reverse.",
                param="amount",
                code="amount_too_large",
            )
        balances = self.account_balance[transfer["destination"]]
        if balances.get(transfer["currency"], 0) < amount:
            raise StripeError.invalid(
                "Insufficient funds in the destination account to reverse this transfer.",
                code="balance_insufficient",
            )
        balances[transfer["currency"]] -= amount
        self.platform_balance[transfer["currency"]] = (
            self.platform_balance.get(transfer["currency"], 0) + amount
        )
        reversal = {
            "id": new_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "created": now(),
            "currency": transfer["currency"],
            "metadata": params.get("metadata", {}),
            "transfer": transfer_id,
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        return reversal

    def create_payout(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        account = self.account(account_id, param="stripe_account")
        amount, currency = params["amount"], params["currency"].lower()
        if not account["payouts_enabled"]:
            raise StripeError.invalid(
                "Payouts are not enabled for this account.", code="payouts_not_allowed"
            )
        destination_id = params.get("destination")
        if destination_id is None:
            defaults = [
                b
                for b in self.external_accounts[account_id].values()
                if b["currency"] == currency and b["default_for_currency"]
            ]
            if not defaults:
                raise StripeError.invalid(
                    f"You do not have a default external account for currency {currency}.",
                    param="currency",
                )
            destination = defaults[0]
        else:
            found = self.external_accounts[account_id].get(destination_id)
            if found is None:
                raise StripeError.missing("external account", destination_id, "destination")
            destination = found
        if destination["currency"] != currency:
            raise StripeError.invalid(
                f"The currency of the external account ({destination['currency']}) does not "
                f"match the payout currency ({currency}).",
                param="currency",
            )
        balances = self.account_balance[account_id]
        if balances.get(currency, 0) < amount:
            raise StripeError.invalid(
                "You have insufficient funds in your Stripe account for this transfer. Your "
                "card balance is too low.",
                code="balance_insufficient",
            )
        balances[currency] -= amount
        payout = {
            "id": new_id("po"),
            "object": "payout",
            "amount": amount,
            "arrival_date": now() + 2 * 86400,
            "automatic": False,
            "balance_transaction": new_id("txn"),
            "created": now(),
            "currency": currency,
            "description": params.get("description"),
            "destination": destination["id"],
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": self.livemode,
            "metadata": params.get("metadata", {}),
            "method": params.get("method", "standard"),
            "reconciliation_status": "not_applicable",
            "source_type": params.get("source_type", "card"),
            "statement_descriptor": params.get("statement_descriptor"),
            "status": "pending",
            "type": "bank_account",
        }
        self.payouts[account_id][payout["id"]] = payout
        return payout

    def payout(self, account_id: str, payout_id: str) -> dict[str, Any]:
        found = self.payouts.get(account_id, {}).get(payout_id)
        if found is None:
            raise StripeError.missing("payout", payout_id)
        return found

    def cancel_payout(self, account_id: str, payout_id: str) -> dict[str, Any]:
        payout = self.payout(account_id, payout_id)
        if payout["status"] != "pending":
            raise StripeError.invalid(
                "Payouts can only be canceled while they are pending.",
            )
        payout["status"] = "canceled"
        self._return_funds(account_id, payout)
        return payout

    def settle_payout(
        self, account_id: str, payout_id: str, status: str, failure_code: str | None = None
    ) -> dict[str, Any]:
        """The bank's answer: ``in_transit``, ``paid`` or ``failed`` (with a code). A paid payout
        may still fail later (a bank return)."""
        payout = self.payout(account_id, payout_id)
        allowed = {
            "pending": {"in_transit", "paid", "failed"},
            "in_transit": {"paid", "failed"},
            "paid": {"failed"},
        }
        if status not in allowed.get(payout["status"], set()):
            raise ValueError(f"a {payout['status']} payout cannot become {status}")
        if status == "failed" and failure_code is None:
            number = self.account_numbers.get(payout["destination"], "")
            failure_code = TEST_ACCOUNT_OUTCOMES.get(number, ("could_not_process", ""))[0]
        payout["status"] = status
        if status == "failed":
            payout["failure_code"] = failure_code
            payout["failure_message"] = FAILURE_MESSAGES.get(
                failure_code or "", "The bank could not process this payout."
            )
            payout["failure_balance_transaction"] = new_id("txn")
            self._return_funds(account_id, payout)
        return payout

    def natural_outcome(self, account_id: str, payout_id: str) -> tuple[str, str | None]:
        """What Stripe's test mode does with this destination: paid, or failed with a code."""
        payout = self.payout(account_id, payout_id)
        number = self.account_numbers.get(payout["destination"], "")
        outcome = TEST_ACCOUNT_OUTCOMES.get(number)
        return ("failed", outcome[0]) if outcome else ("paid", None)

    def _return_funds(self, account_id: str, payout: dict[str, Any]) -> None:
        balances = self.account_balance[account_id]
        balances[payout["currency"]] = balances.get(payout["currency"], 0) + payout["amount"]

    def balance(self, account_id: str | None) -> dict[str, Any]:
        amounts = self.platform_balance if account_id is None else self.account_balance[account_id]
        return {
            "object": "balance",
            "available": [
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in sorted(amounts.items())
            ]
            or [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
            "livemode": self.livemode,
            "pending": [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in amounts]
            or [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        }


def _aba_checksum_ok(routing: str) -> bool:
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(routing, weights, strict=True)) % 10 == 0


def _check_controller(controller: dict[str, Any], params: dict[str, Any]) -> None:
    if controller and "type" in params:
        raise StripeError.invalid(
            "You cannot specify both `type` and `controller`; use controller properties.",
            param="type",
        )
    dashboard = controller.get("stripe_dashboard", {}).get("type")
    if controller.get("requirement_collection") == "application" and (
        controller.get("fees", {}).get("payer") != "application"
        or controller.get("losses", {}).get("payments") != "application"
        or dashboard != "none"
    ):
        raise StripeError.invalid(
            "controller[requirement_collection]=application is only supported together with "
            "controller[fees][payer]=application, controller[losses][payments]=application and "
            "controller[stripe_dashboard][type]=none.",
            param="controller[requirement_collection]",
        )
    if dashboard == "none" and not params.get("capabilities"):
        raise StripeError.invalid(
            "When controller[stripe_dashboard][type]=none, you must request capabilities.",
            param="capabilities",
        )


def _is_custom(controller: dict[str, Any]) -> bool:
    return (
        controller.get("requirement_collection") == "application"
        and controller.get("stripe_dashboard", {}).get("type") == "none"
    )


def _controller_view(controller: dict[str, Any]) -> dict[str, Any]:
    return {
        "fees": {"payer": controller.get("fees", {}).get("payer", "account")},
        "is_controller": True,
        "losses": {"payments": controller.get("losses", {}).get("payments", "stripe")},
        "requirement_collection": controller.get("requirement_collection", "stripe"),
        "stripe_dashboard": {"type": controller.get("stripe_dashboard", {}).get("type", "full")},
        "type": "application",
    }


def _company_view(params: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        key: params[key] for key in ("name", "phone", "structure") if key in params
    }
    if "address" in params:
        view["address"] = params["address"]
    if params.get("tax_id"):
        view["tax_id_provided"] = True
    return view


def _requirements(due: list[str], pending: list[str]) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": (
            "requirements.past_due"
            if due
            else ("requirements.pending_verification" if pending else None)
        ),
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": list(pending),
    }


def _merge_metadata(target: dict[str, Any], metadata: dict[str, str]) -> None:
    if metadata == {}:
        target["metadata"] = {}
        return
    merged = {**target.get("metadata", {}), **metadata}
    target["metadata"] = {k: v for k, v in merged.items() if v != ""}
