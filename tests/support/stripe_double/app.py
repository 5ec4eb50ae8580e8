"""The double's HTTP surface: Stripe's routes, authentication, ``Stripe-Account``,
``Idempotency-Key`` replay and error bodies, over the objects in ``state.py``.

Idempotency follows Stripe's documented rules: a result is saved once the endpoint started
executing (successes and errors alike) and replayed for 24 h to the same key with the same
parameters (``Idempotent-Replayed: true``); other parameters are an ``idempotency_error``; a
request whose parameters fail validation saves nothing; a key still executing answers 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.stripe_double import reference as ref
from tests.support.stripe_double.errors import StripeError
from tests.support.stripe_double.params import Hash, check_params, decode_form
from tests.support.stripe_double.state import StoredResponse, list_object, new_id

if TYPE_CHECKING:
    from tests.support.stripe_double.server import StripeDouble

Handler = Callable[["Call"], dict[str, Any]]
MAX_UPLOAD = 16 * 1024 * 1024


@dataclass
class Call:
    request: Request
    params: dict[str, Any]
    stripe_account: str | None
    path: dict[str, str]
    upload: tuple[str, bytes, str] | None = None  # filename, bytes, content type

    def connected(self) -> str:
        if self.stripe_account is None:
            raise StripeError.invalid(
                "The double models this endpoint only on connected accounts: send the "
                "Stripe-Account header.",
                param="stripe_account",
            )
        return self.stripe_account


def build_app(double: StripeDouble) -> Starlette:
    endpoints = Endpoints(double)

    def route(path: str, method: str, spec: Hash, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            return await endpoints.serve(request, spec, handler)

        return Route(path, endpoint, methods=[method])

    e = endpoints
    routes = [
        route("/v1/accounts", "POST", ref.ACCOUNT_CREATE, e.create_account),
        route("/v1/accounts/{account}", "GET", ref.RETRIEVE, e.get_account),
        route("/v1/accounts/{account}", "POST", ref.ACCOUNT_UPDATE, e.update_account),
        route("/v1/account", "GET", ref.RETRIEVE, e.get_own_account),
        route("/v1/accounts/{account}/persons", "POST", ref.PERSON_CREATE, e.create_person),
        route("/v1/accounts/{account}/persons", "GET", ref.PERSON_LIST, e.list_persons),
        route("/v1/accounts/{account}/persons/{person}", "GET", ref.RETRIEVE, e.get_person),
        route(
            "/v1/accounts/{account}/persons/{person}", "POST", ref.PERSON_UPDATE, e.update_person
        ),
        route("/v1/files", "POST", ref.FILE_CREATE, e.create_file),
        route("/v1/files/{file}", "GET", ref.RETRIEVE, e.get_file),
        route(
            "/v1/accounts/{account}/external_accounts",
            "POST",
            ref.EXTERNAL_ACCOUNT_CREATE,
            e.create_external_account,
        ),
        route(
            "/v1/accounts/{account}/external_accounts",
            "GET",
            ref.EXTERNAL_ACCOUNT_LIST,
            e.list_external_accounts,
        ),
        route(
            "/v1/accounts/{account}/external_accounts/{bank}",
            "GET",
            ref.RETRIEVE,
            e.get_external_account,
        ),
        route(
            "/v1/accounts/{account}/external_accounts/{bank}",
            "POST",
            ref.EXTERNAL_ACCOUNT_UPDATE,
            e.update_external_account,
        ),
        route("/v1/transfers", "POST", ref.TRANSFER_CREATE, e.create_transfer),
        route("/v1/transfers", "GET", ref.TRANSFER_LIST, e.list_transfers),
        route("/v1/transfers/{transfer}", "GET", ref.RETRIEVE, e.get_transfer),
        route("/v1/transfers/{transfer}", "POST", ref.TRANSFER_UPDATE, e.update_transfer),
        route(
            "/v1/transfers/{transfer}/reversals", "POST", ref.REVERSAL_CREATE, e.reverse_transfer
        ),
        route("/v1/payouts", "POST", ref.PAYOUT_CREATE, e.create_payout),
        route("/v1/payouts", "GET", ref.PAYOUT_LIST, e.list_payouts),
        route("/v1/payouts/{payout}", "GET", ref.RETRIEVE, e.get_payout),
        route("/v1/payouts/{payout}", "POST", ref.PAYOUT_UPDATE, e.update_payout),
        route("/v1/payouts/{payout}/cancel", "POST", ref.PAYOUT_CANCEL, e.cancel_payout),
        route("/v1/balance", "GET", ref.BALANCE_RETRIEVE, e.get_balance),
        route("/v1/events/{event}", "GET", ref.RETRIEVE, e.get_event),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        error = StripeError.invalid(
            f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
        return _error_response(error, new_id("req"))

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


class Endpoints:
    def __init__(self, double: StripeDouble) -> None:
        self.double = double
        self.state = double.state

    async def serve(self, request: Request, spec: Hash, handler: Handler) -> Response:
        request_id = new_id("req")
        try:
            if self.double.outage == "503":
                raise StripeError(
                    503,
                    "api_error",
                    "Stripe is temporarily unavailable (the double's simulated outage).",
                )
            if self.double.outage == "429":
                raise StripeError(
                    429,
                    "invalid_request_error",
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                )
            self._authenticate(request)
            call = await self._parse(request, spec)
            return await self._run(request, call, handler, request_id)
        except StripeError as error:
            return _error_response(error, request_id)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header:
            raise StripeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        key = header.removeprefix("Bearer ").strip()
        if key != self.double.api_key:
            shown = f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"
            raise StripeError(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {shown}",
                code="api_key_expired" if key.startswith("sk_expired") else None,
            )

    async def _parse(self, request: Request, spec: Hash) -> Call:
        account = request.headers.get("stripe-account")
        upload = None
        if request.method == "GET":
            raw = decode_form(request.url.query)
        elif request.headers.get("content-type", "").startswith("multipart/form-data"):
            raw, upload = await _multipart(request)
        else:
            raw = decode_form((await request.body()).decode())
        path = {k: unquote(str(v)) for k, v in request.path_params.items()}
        with self.state.lock:
            if account is not None:
                self.state.account(account, param="stripe_account")
            params = check_params(spec, raw)
            self.state.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "stripe_account": account,
                    "idempotency_key": request.headers.get("idempotency-key"),
                    "stripe_version": request.headers.get("stripe-version"),
                    "params": params,
                }
            )
        return Call(request, params, account, path, upload)

    async def _run(
        self, request: Request, call: Call, handler: Handler, request_id: str
    ) -> Response:
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        if key is None:
            with self.state.lock:
                body = handler(call)
            await self._after(request, body)
            return _json_response(200, body, request_id)
        scope = (call.stripe_account or self.state.platform_id, key)
        fingerprint = _fingerprint(request, call)
        with self.state.lock:
            stored = self.state.idempotency.get(scope)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                response = Response(
                    stored.body, status_code=stored.status, media_type="application/json"
                )
                response.headers.update(
                    {
                        "Request-Id": request_id,
                        "Idempotent-Replayed": "true",
                        "Idempotency-Key": key,
                    }
                )
                return response
            if scope in self.state.in_flight:
                raise StripeError(
                    409,
                    "idempotency_error",
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still "
                    "going through). Please retry your request after a few seconds.",
                    code="idempotency_key_in_use",
                )
            self.state.in_flight.add(scope)
        try:
            with self.state.lock:
                try:
                    status, body = 200, handler(call)
                except StripeError as error:
                    if error.status >= 500:
                        raise
                    status, body = error.status, error.body(request_id)
                encoded = json.dumps(body).encode()
                self.state.idempotency[scope] = StoredResponse(fingerprint, status, encoded)
        finally:
            with self.state.lock:
                self.state.in_flight.discard(scope)
        await self._after(request, body)
        response = Response(encoded, status_code=status, media_type="application/json")
        response.headers.update({"Request-Id": request_id, "Idempotency-Key": key})
        return response

    async def _after(self, request: Request, body: dict[str, Any]) -> None:
        """Test hooks run once an object is stored, before the answer leaves."""
        await self.double.run_hooks(request, body)
        if self.double.take_lost_answer(request, body):
            raise StripeError(
                500, "api_error", "An unknown error occurred (the double lost this answer)."
            )

    # -- accounts ---------------------------------------------------------------------------

    def create_account(self, call: Call) -> dict[str, Any]:
        account = self.state.create_account(call.params)
        return self.state.account_view(account["id"])

    def get_account(self, call: Call) -> dict[str, Any]:
        return self.state.account_view(call.path["account"])

    def get_own_account(self, call: Call) -> dict[str, Any]:
        return self.state.account_view(call.connected())

    def update_account(self, call: Call) -> dict[str, Any]:
        account_id = call.path["account"]
        before = self.state.account_view(account_id)
        self.state.update_account(account_id, call.params)
        after = self.state.account_view(account_id)
        self.double.account_changed(before, after)
        return after

    def create_person(self, call: Call) -> dict[str, Any]:
        account_id = call.path["account"]
        before = self.state.account_view(account_id)
        person = self.state.create_person(account_id, call.params)
        self.double.account_changed(before, self.state.account_view(account_id))
        return person

    def list_persons(self, call: Call) -> dict[str, Any]:
        account_id = call.path["account"]
        self.state.account(account_id)
        people = list(reversed(self.state.persons[account_id].values()))
        return _page(f"/v1/accounts/{account_id}/persons", people, call.params)

    def get_person(self, call: Call) -> dict[str, Any]:
        return self.state.person(call.path["account"], call.path["person"])

    def update_person(self, call: Call) -> dict[str, Any]:
        account_id = call.path["account"]
        before = self.state.account_view(account_id)
        person = self.state.update_person(account_id, call.path["person"], call.params)
        self.double.account_changed(before, self.state.account_view(account_id))
        return person

    # -- files ------------------------------------------------------------------------------

    def create_file(self, call: Call) -> dict[str, Any]:
        if call.upload is None:
            raise StripeError.invalid(
                "Missing required param: file. Files are uploaded as multipart/form-data.",
                param="file",
                code="parameter_missing",
            )
        filename, content, content_type = call.upload
        owner = call.stripe_account or self.state.platform_id
        return self.state.create_file(
            owner, call.params["purpose"], filename, content, content_type
        )

    def get_file(self, call: Call) -> dict[str, Any]:
        return self.state.file(call.path["file"])

    # -- external accounts ------------------------------------------------------------------

    def create_external_account(self, call: Call) -> dict[str, Any]:
        account_id = call.path["account"]
        before = self.state.account_view(account_id)
        if before["controller"]["requirement_collection"] != "application":
            raise StripeError.invalid(
                "You can only create external accounts on connected accounts where "
                "controller.requirement_collection is application.",
                param="account",
            )
        bank = self.state.add_external_account(
            account_id,
            call.params["external_account"],
            default=bool(call.params.get("default_for_currency")),
        )
        if "metadata" in call.params:
            bank["metadata"] = call.params["metadata"]
        self.double.account_changed(before, self.state.account_view(account_id))
        return bank

    def list_external_accounts(self, call: Call) -> dict[str, Any]:
        account_id = call.path["account"]
        self.state.account(account_id)
        banks = list(reversed(self.state.external_accounts[account_id].values()))
        if call.params.get("object") == "card":
            banks = []
        return _page(f"/v1/accounts/{account_id}/external_accounts", banks, call.params)

    def get_external_account(self, call: Call) -> dict[str, Any]:
        return self.state.external_account(call.path["account"], call.path["bank"])

    def update_external_account(self, call: Call) -> dict[str, Any]:
        account_id, bank_id = call.path["account"], call.path["bank"]
        bank = self.state.external_account(account_id, bank_id)
        if call.params.get("default_for_currency"):
            self.state.make_default(account_id, bank_id)
        for key in ("account_holder_name", "account_holder_type", "account_type"):
            if key in call.params:
                bank[key] = call.params[key]
        if "metadata" in call.params:
            bank["metadata"] = {**bank["metadata"], **call.params["metadata"]}
        return bank

    # -- transfers --------------------------------------------------------------------------

    def create_transfer(self, call: Call) -> dict[str, Any]:
        if call.stripe_account is not None:
            raise StripeError.invalid(
                "Transfers to connected accounts are created by the platform: do not send "
                "the Stripe-Account header.",
                param="stripe_account",
            )
        transfer = self.state.create_transfer(call.params)
        self.double.emit("transfer.created", transfer)
        return transfer

    def list_transfers(self, call: Call) -> dict[str, Any]:
        rows = list(reversed(self.state.transfers.values()))
        params = call.params
        if "destination" in params:
            rows = [t for t in rows if t["destination"] == params["destination"]]
        if "transfer_group" in params:
            rows = [t for t in rows if t["transfer_group"] == params["transfer_group"]]
        if "created" in params:
            rows = [t for t in rows if _in_range(t["created"], params["created"])]
        return _page("/v1/transfers", rows, params)

    def get_transfer(self, call: Call) -> dict[str, Any]:
        return self.state.transfer(call.path["transfer"])

    def update_transfer(self, call: Call) -> dict[str, Any]:
        transfer = self.state.transfer(call.path["transfer"])
        if "description" in call.params:
            transfer["description"] = call.params["description"]
        if "metadata" in call.params:
            merged = {**transfer["metadata"], **call.params["metadata"]}
            transfer["metadata"] = {k: v for k, v in merged.items() if v != ""}
        return transfer

    def reverse_transfer(self, call: Call) -> dict[str, Any]:
        reversal = self.state.reverse_transfer(call.path["transfer"], call.params)
        transfer = self.state.transfer(call.path["transfer"])
        self.double.emit("transfer.reversed", transfer)
        return reversal

    # -- payouts ----------------------------------------------------------------------------

    def create_payout(self, call: Call) -> dict[str, Any]:
        account_id = call.connected()
        payout = self.state.create_payout(account_id, call.params)
        self.double.emit("payout.created", payout, account=account_id)
        return payout

    def list_payouts(self, call: Call) -> dict[str, Any]:
        account_id = call.connected()
        rows = list(reversed(self.state.payouts[account_id].values()))
        params = call.params
        if "status" in params:
            rows = [p for p in rows if p["status"] == params["status"]]
        if "destination" in params:
            rows = [p for p in rows if p["destination"] == params["destination"]]
        for name in ("created", "arrival_date"):
            if name in params:
                rows = [p for p in rows if _in_range(p[name], params[name])]
        return _page("/v1/payouts", rows, params)

    def get_payout(self, call: Call) -> dict[str, Any]:
        return self.state.payout(call.connected(), call.path["payout"])

    def update_payout(self, call: Call) -> dict[str, Any]:
        payout = self.state.payout(call.connected(), call.path["payout"])
        if "metadata" in call.params:
            merged = {**payout["metadata"], **call.params["metadata"]}
            payout["metadata"] = {k: v for k, v in merged.items() if v != ""}
        return payout

    def cancel_payout(self, call: Call) -> dict[str, Any]:
        account_id = call.connected()
        payout = self.state.cancel_payout(account_id, call.path["payout"])
        self.double.emit("payout.canceled", payout, account=account_id)
        return payout

    def get_balance(self, call: Call) -> dict[str, Any]:
        return self.state.balance(call.stripe_account)

    def get_event(self, call: Call) -> dict[str, Any]:
        for event in self.state.events:
            if event["id"] == call.path["event"]:
                return event
        raise StripeError.missing("event", call.path["event"])


async def _multipart(request: Request) -> tuple[dict[str, Any], tuple[str, bytes, str] | None]:
    form = await request.form(max_part_size=MAX_UPLOAD)
    raw: dict[str, Any] = {}
    upload = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != "file":
                raise StripeError.invalid(f"Received unknown parameter: {name}", param=name)
            content = await value.read()
            upload = (value.filename or "upload", content, value.content_type or "")
            raw["file"] = "<upload>"
        else:
            nested = decode_form(f"{_quote(name)}={_quote(value)}")
            _merge(raw, nested)
    return raw, upload


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="[]")


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _fingerprint(request: Request, call: Call) -> str:
    material = {
        "method": request.method,
        "path": request.url.path,
        "params": call.params,
        "upload": hashlib.sha256(call.upload[1]).hexdigest() if call.upload else None,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _in_range(value: int, bounds: dict[str, int]) -> bool:
    checks = {
        "eq": value.__eq__,
        "gt": value.__gt__,
        "gte": value.__ge__,
        "lt": value.__lt__,
        "lte": value.__le__,
    }
    return all(checks[op](bound) for op, bound in bounds.items())


def _page(url: str, rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Newest first; ``starting_after`` / ``ending_before`` are object ids; ``limit`` 1..100."""
    limit = params.get("limit", 10)
    if not 1 <= limit <= 100:
        raise StripeError.invalid(
            "Invalid limit: must be at most 100 and at least 1", param="limit"
        )
    ids = [row["id"] for row in rows]
    if "starting_after" in params:
        cursor = params["starting_after"]
        if cursor not in ids:
            raise StripeError.missing("object", cursor, param="starting_after")
        rows = rows[ids.index(cursor) + 1 :]
        return list_object(url, rows[:limit], has_more=len(rows) > limit)
    if "ending_before" in params:
        cursor = params["ending_before"]
        if cursor not in ids:
            raise StripeError.missing("object", cursor, param="ending_before")
        rows = rows[: ids.index(cursor)]
        return list_object(url, rows[-limit:], has_more=len(rows) > limit)
    return list_object(url, rows[:limit], has_more=len(rows) > limit)


def _json_response(status: int, body: dict[str, Any], request_id: str) -> Response:
    response = Response(json.dumps(body), status_code=status, media_type="application/json")
    response.headers["Request-Id"] = request_id
    return response


def _error_response(error: StripeError, request_id: str) -> Response:
    response = _json_response(error.status, error.body(request_id), request_id)
    response.headers.update(error.headers)
    if error.status == 503:
        response.headers["Stripe-Should-Retry"] = "true"
    return response
