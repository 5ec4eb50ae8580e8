"""Descriptions for every type, field, argument, input field and enum value of the schema.

Descriptions written next to a field in its resolver module win. Everything else is described
here: by rule for the shapes that repeat (Relay connections and edges, mutation inputs and
payloads, ``id``/``createdAt``/``livemode``, pagination arguments), and by name in ``TEXTS`` for
the rest. ``describe_schema`` fills in what is missing once the schema is built; the schema
linter (``make schema-lint``) and ``tests/test_schema.py`` check that nothing is left without one
and that every name in ``TEXTS`` still exists.
"""

from __future__ import annotations

import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
)

IDEMPOTENCY_KEY = (
    "Same key and input within 24 h replays the first payload; a different input with the "
    "same key is IDEMPOTENCY_KEY_MISMATCH (at most 255 characters)."
)
_COMMON_FIELDS = {
    "id": "Opaque, prefixed, non-sequential identifier.",
    "createdAt": "When the object was created (ISO 8601).",
    "livemode": "True for live-mode data (a live key), false for test mode.",
    "userErrors": "Why nothing changed; empty when the mutation succeeded.",
    "idempotencyKey": IDEMPOTENCY_KEY,
    "currency": "Lowercase ISO 4217 currency code.",
}
_PAGINATION_ARGS = {
    "first": "How many items to return (at most 100).",
    "after": "A cursor from a previous page (`pageInfo.endCursor` or an edge's `cursor`).",
}
_AMOUNT = "In integer minor units (cents)."

TEXTS: dict[str, str] = {
    # Scalars and root types
    "Query": "Reads. Every query sees one organization in one mode: the API key's.",
    "Mutation": "Writes. Business failures come back in each payload's `userErrors`.",
    "Subscription": "Live updates over WebSocket (graphql-transport-ws), resumable by cursor.",
    "Query.node.id": "The id of any object (Node).",
    "Query.payout.id": "A payout id (`po_…`).",
    "Query.planGroup.id": "A plan group id (`plg_…`).",
    "Query.payouts.status": "Only payouts in this status.",
    "Subscription.payoutUpdated.id": "Only this payout's changes.",
    "Subscription.payoutUpdated.after": "Resume after this event cursor (replays what followed).",
    "Subscription.payoutAccountUpdated.after": "Resume after this event cursor.",
    "Subscription.balanceUpdated.after": "Resume after this event cursor.",
    # Viewer and organization
    "Viewer": "Who is calling: the API key's organization and mode.",
    "Viewer.organization": "The organization the API key belongs to.",
    "Viewer.livemode": "True for a live key, false for a test key.",
    "Organization": "A customer of the platform; it owns balances, payouts and plans.",
    "Organization.name": "Display name.",
    "Organization.country": "ISO 3166-1 alpha-2 country code.",
    "Organization.currency": "Default currency, lowercase ISO 4217.",
    "Node.id": "Opaque, prefixed, non-sequential identifier.",
    "Node.createdAt": "When the object was created (ISO 8601).",
    "Node.livemode": "True for live-mode data, false for test mode.",
    "PageInfo": "Where a page sits in its list (Relay cursor connections).",
    "PageInfo.hasNextPage": "Whether more items follow this page.",
    "PageInfo.hasPreviousPage": "Whether items precede this page (false for forward paging).",
    "PageInfo.startCursor": "Cursor of the first item of this page; null when it is empty.",
    "PageInfo.endCursor": "Cursor of the last item: pass it as `after` for the next page.",
    "UserError": "Why a mutation changed nothing: a code, a message and the input field at fault.",
    "UserError.code": "Machine-readable reason.",
    "UserError.message": "Human-readable explanation (safe to show; holds no sensitive values).",
    "UserError.field": 'Path to the input field at fault, for example ["input", "amount"].',
    # Balance and ledger
    "Balance.available": f"Funds that can be paid out now. {_AMOUNT} Never negative.",
    "Balance.pending": f"Funds received but not yet released by the provider. {_AMOUNT}",
    "Balance.inTransit": f"Funds reserved by payouts that have not settled. {_AMOUNT}",
    "Balance.paidOut": f"Total of settled payouts. {_AMOUNT}",
    "Balance.livemode": "True for the live-mode balance, false for test mode.",
    "BalanceTransaction.type": "What moved the balance.",
    "BalanceTransaction.availableChange": f"Change to `available`. {_AMOUNT}",
    "BalanceTransaction.pendingChange": f"Change to `pending`. {_AMOUNT}",
    "BalanceTransaction.inTransitChange": f"Change to `inTransit`. {_AMOUNT}",
    "BalanceTransaction.paidOutChange": f"Change to `paidOut`. {_AMOUNT}",
    "BalanceTransaction.availableAfter": f"`available` after this entry. {_AMOUNT}",
    "BalanceTransaction.pendingAfter": f"`pending` after this entry. {_AMOUNT}",
    "BalanceTransaction.inTransitAfter": f"`inTransit` after this entry. {_AMOUNT}",
    "BalanceTransaction.paidOutAfter": f"`paidOut` after this entry. {_AMOUNT}",
    "BalanceTransaction.sourceType": "Kind of object that caused the entry (`credit`, `payout`).",
    "BalanceTransaction.sourceId": "Id of the object that caused the entry.",
    "BalanceTransaction.description": "Free text given with the credit or payout.",
    "BalanceTransaction.availableOn": "When pending funds become available (credits only).",
    "BalanceTransactionType.CREDIT": "Funds received, pending until their release time.",
    "BalanceTransactionType.CREDIT_RELEASE": "Pending funds became available.",
    "BalanceTransactionType.PAYOUT": "A payout reserved funds: available to in transit.",
    "BalanceTransactionType.PAYOUT_PAID": "A payout settled: in transit to paid out.",
    "BalanceTransactionType.PAYOUT_FAILED": "A payout failed: in transit back to available.",
    "BalanceTransactionType.PAYOUT_CANCELED": "A payout was canceled: back to available.",
    "BalanceTransactionType.PAYOUT_REVERSED": "A paid payout came back (late bank return).",
    # Payouts
    "Payout.status": "Where the payout is in its life.",
    "Payout.amount": f"Amount taken from the available balance, fee included. {_AMOUNT}",
    "Payout.fee": f"The platform's fee for this payout. {_AMOUNT}",
    "Payout.netAmount": f"What reaches the bank account: amount minus fee. {_AMOUNT}",
    "Payout.description": "Free text given when the payout was requested.",
    "Payout.providerTransferId": "The provider's id for the transfer, once it was created.",
    "Payout.failureCode": "Why the payout failed, for example `account_closed`.",
    "Payout.failureMessage": "Human-readable failure reason from the provider.",
    "Payout.paidAt": "When the payout settled.",
    "Payout.failedAt": "When the payout failed.",
    "Payout.canceledAt": "When the payout was canceled.",
    "PayoutStatus": "The life of a payout: PENDING → IN_TRANSIT → PAID, or FAILED / CANCELED.",
    "PayoutStatus.PENDING": "Requested; funds reserved; not yet with the bank.",
    "PayoutStatus.IN_TRANSIT": "On its way to the bank.",
    "PayoutStatus.PAID": "Settled in the bank account (a late return can still fail it).",
    "PayoutStatus.FAILED": "Did not arrive; the amount is back in the available balance.",
    "PayoutStatus.CANCELED": "Canceled before it left; the amount is back in available.",
    "PayoutStatusChange.fromStatus": "The status before this step; null for the first one.",
    "PayoutStatusChange.status": "The status this step reached.",
    "PayoutStatusChange.at": "When the step happened.",
    "PayoutStatusChange.source": "What caused it: `request`, `cancel`, `webhook:<event id>`…",
    "AdvancePayoutStatus.IN_TRANSIT": "Have the sandbox report the payout in transit.",
    "AdvancePayoutStatus.PAID": "Have the sandbox report the payout paid.",
    "AdvancePayoutStatus.FAILED": "Have the sandbox report the payout failed.",
    # Payout accounts and bank accounts
    "PayoutAccount.status": "Verification state at the provider.",
    "PayoutAccount.businessType": "Whether an individual or a company is verified.",
    "PayoutAccount.email": "Contact email given at verification.",
    "PayoutAccount.country": "ISO 3166-1 alpha-2 country code.",
    "PayoutAccount.transfersEnabled": "Whether the provider currently allows payouts.",
    "PayoutAccount.verifiedAt": "When the account was first verified.",
    "PayoutAccountStatus": "Verification state of a payout account.",
    "PayoutAccountStatus.PENDING_VERIFICATION": "Submitted; the provider is checking it.",
    "PayoutAccountStatus.VERIFIED": "Verified; payouts are possible.",
    "PayoutAccountStatus.RESTRICTED": "More information needed; payouts are disabled.",
    "PayoutAccountStatus.DISABLED": "Rejected by the provider.",
    "PayoutBankAccount.last4": "Last 4 digits of the account number (the rest is never shown).",
    "PayoutBankAccount.bankName": "The bank's name, when known.",
    "PayoutBankAccount.accountHolderName": "Name of the account holder.",
    "PayoutBankAccount.country": "ISO 3166-1 alpha-2 country code of the bank.",
    "PayoutBankAccount.accountType": "Checking or savings, when given.",
    "PayoutBankAccount.isDefault": "Whether payouts go to this account.",
    "PayoutBankAccount.status": "Whether the provider accepts payouts to it.",
    "PayoutBankAccount.providerExternalAccountId": "The provider's id for this bank account.",
    "BankAccountStatus": "Whether a bank account can receive payouts.",
    "BankAccountStatus.ACTIVE": "Payouts can be sent to it.",
    "BankAccountStatus.ERRORED": "The provider refused it (a payout to it failed).",
    "BankAccountType": "Kind of bank account.",
    "BankAccountType.CHECKING": "A checking (current) account.",
    "BankAccountType.SAVINGS": "A savings account.",
    "BusinessType": "Who is verified for a payout account.",
    "BusinessType.INDIVIDUAL": "A person (sole proprietor).",
    "BusinessType.COMPANY": "A registered company.",
    "VerificationOutcome": "What completeVerification did.",
    "VerificationOutcome.CREATED": "A payout account was opened with the provider.",
    "VerificationOutcome.EXISTING": "The account already existed; nothing else happened.",
    "CompleteVerificationInput.email": "Contact email for the payout account.",
    "CompleteVerificationInput.businessType": "Individual or company; fill in the matching part.",
    "CompleteVerificationInput.businessUrl": "The business's public website (https).",
    "CompleteVerificationInput.documentUrl": "Identity document to download (https, public).",
    "CompleteVerificationInput.bank": "The first destination bank account (made the default).",
    "CompleteVerificationInput.individual": "The person, when businessType is INDIVIDUAL.",
    "CompleteVerificationInput.company": "The company, when businessType is COMPANY.",
    "CompleteVerificationPayload.payoutAccount": "The payout account, as it is now.",
    "CompleteVerificationPayload.outcome": "Whether an account was created or already existed.",
    "BankAccountDetailsInput": "A destination bank account; the number is write-only.",
    "BankAccountDetailsInput.accountNumber": "Account number or IBAN (never returned).",
    "BankAccountDetailsInput.accountHolderName": "Name of the account holder.",
    "BankAccountDetailsInput.routingNumber": "Routing number, where the country uses one.",
    "BankAccountDetailsInput.accountType": "Checking or savings.",
    "AddBankAccountInput.accountNumber": "Account number or IBAN (never returned).",
    "AddBankAccountInput.accountHolderName": "Name of the account holder.",
    "AddBankAccountInput.routingNumber": "Routing number, where the country uses one.",
    "AddBankAccountInput.accountType": "Checking or savings.",
    "AddBankAccountInput.setDefault": "Make it the account payouts go to.",
    "AddBankAccountPayload.bankAccount": "The new bank account.",
    "AddressInput": "A postal address.",
    "AddressInput.line1": "Street and number.",
    "AddressInput.line2": "Apartment, suite or floor.",
    "AddressInput.city": "City or town.",
    "AddressInput.state": "State, province or region, where the country has them.",
    "AddressInput.postalCode": "Postal code.",
    "AddressInput.country": "ISO 3166-1 alpha-2 country code.",
    "IndividualInput": "The person verified for an INDIVIDUAL payout account.",
    "IndividualInput.firstName": "Given name.",
    "IndividualInput.lastName": "Family name.",
    "IndividualInput.phone": "Phone number in E.164 form.",
    "IndividualInput.address": "Home address.",
    "IndividualInput.ssnLast4": "Last 4 digits of the US SSN (US only; never returned).",
    "IndividualInput.idNumber": "National id number (never stored in clear or returned).",
    "CompanyInput": "The company verified for a COMPANY payout account.",
    "CompanyInput.name": "Registered name.",
    "CompanyInput.taxId": "Tax id (never returned).",
    "CompanyInput.address": "Registered address.",
    "CompanyInput.representative": "The person acting for the company.",
    "RepresentativeInput": "The person acting for a company.",
    "RepresentativeInput.firstName": "Given name.",
    "RepresentativeInput.lastName": "Family name.",
    "RepresentativeInput.phone": "Phone number in E.164 form.",
    "RepresentativeInput.email": "Email address.",
    "TestSetPayoutAccountStatusInput.status": "The status the sandbox should report.",
    "TestSetPayoutAccountStatusPayload.payoutAccount": "The payout account, as it is now.",
    # Payout mutations
    "RequestPayoutInput.amount": f"How much to pay out, fee included. {_AMOUNT}",
    "RequestPayoutInput.description": "Free text kept with the payout.",
    "RequestPayoutPayload.payout": "The new payout (PENDING), or the replayed one.",
    "CancelPayoutInput.payoutId": "The payout to cancel.",
    "CancelPayoutPayload.payout": "The payout, as it is now.",
    "TestAdvancePayoutInput.payoutId": "The payout to advance.",
    "TestAdvancePayoutInput.status": "The status the sandbox should report.",
    "TestAdvancePayoutInput.failureCode": "With FAILED: the failure code to report.",
    "TestAdvancePayoutPayload.payout": "The payout, as it is now.",
    "TestCreditBalanceInput.amount": f"How much to credit. {_AMOUNT}",
    "TestCreditBalanceInput.description": "Free text kept with the ledger entry.",
    "TestCreditBalanceInput.availableInSeconds": "Seconds until the funds become available.",
    "TestCreditBalancePayload.balanceTransaction": "The credit's ledger entry.",
    "TestCreditBalancePayload.balance": "The balance after the credit.",
    # Plans
    "Plan.name": "Display name.",
    "PlanGroup.name": "Display name.",
    "PlanGroup.description": "Free text.",
    "PlanGroup.isPublic": "Whether the group is meant to be shown to customers.",
    "PlanGroupPlan.plan": "The plan.",
    "CreatePlanInput.name": "Display name.",
    "CreatePlanPayload.plan": "The new plan.",
    "CreatePlanGroupInput.name": "Display name.",
    "CreatePlanGroupInput.description": "Free text.",
    "CreatePlanGroupInput.isPublic": "Whether the group is meant to be shown to customers.",
    "CreatePlanGroupPayload.planGroup": "The new plan group.",
    "UpdatePlanGroupInput.planGroupId": "The plan group to change.",
    "UpdatePlanGroupInput.name": "New display name; null keeps it.",
    "UpdatePlanGroupInput.isPublic": "New visibility; null keeps it.",
    "UpdatePlanGroupPayload.planGroup": "The plan group, as it is now.",
    "DeletePlanGroupInput.planGroupId": "The plan group to delete.",
    "DeletePlanGroupPayload.deletedPlanGroupId": "The id of the deleted plan group.",
    "AddPlanToGroupInput.planGroupId": "The plan group.",
    "AddPlanToGroupInput.planId": "The plan to insert or move.",
    "AddPlanToGroupPayload.planGroup": "The plan group, as it is now.",
    "RemovePlanFromGroupInput.planGroupId": "The plan group.",
    "RemovePlanFromGroupInput.planId": "The plan to take out.",
    "RemovePlanFromGroupPayload.planGroup": "The plan group, as it is now.",
    "ReorderPlansInGroupInput.planGroupId": "The plan group.",
    "ReorderPlansInGroupPayload.planGroup": "The plan group, as it is now.",
    # Outbound webhooks
    "Query.webhookEndpoint.id": "A webhook endpoint id.",
    "Query.webhookDeliveries.endpointId": "Only deliveries to this endpoint.",
    "Query.webhookDeliveries.status": "Only deliveries in this status.",
    "WebhookEndpoint.url": "Where events are POSTed (https, public addresses only).",
    "WebhookEndpoint.description": "Free text.",
    "WebhookEndpoint.enabled": "Whether new events are sent here.",
    "WebhookDelivery.endpoint": "The endpoint the event is sent to.",
    "WebhookDelivery.eventType": "The event's type, for example `payout.paid`.",
    "WebhookDelivery.status": "Where the delivery stands.",
    "WebhookDelivery.attemptCount": "Attempts made so far.",
    "WebhookDelivery.attempts": "Every attempt so far, oldest first.",
    "WebhookDeliveryStatus.PENDING": "Not answered with a 2xx yet; more attempts will follow.",
    "WebhookDeliveryStatus.SUCCEEDED": "The endpoint answered with a 2xx.",
    "WebhookDeliveryStatus.FAILED": "The last attempt failed; no more will be made.",
    "WebhookAttempt.attemptedAt": "When the attempt started.",
    "WebhookAttempt.durationMs": "How long the attempt took, in milliseconds.",
    "CreateWebhookEndpointInput.description": "Free text.",
    "CreateWebhookEndpointPayload.webhookEndpoint": "The new endpoint.",
    "UpdateWebhookEndpointInput.url": "New URL (https, public addresses only); null keeps it.",
    "UpdateWebhookEndpointInput.events": "New event types (empty: every type); null keeps them.",
    "UpdateWebhookEndpointPayload.webhookEndpoint": "The endpoint, as it is now.",
    "RotateWebhookEndpointSecretPayload.webhookEndpoint": "The endpoint, as it is now.",
    "DeleteWebhookEndpointPayload.deletedId": "The id of the deleted endpoint.",
    "SendTestWebhookInput.endpointId": "The endpoint to send a test event to.",
    "SendTestWebhookPayload.delivery": "The test event's delivery.",
    "RedeliverWebhookInput.deliveryId": "The delivery to send again.",
    "RedeliverWebhookPayload.delivery": "The delivery, as it is now.",
    # Business error codes
    "UserErrorCode": "Why a mutation changed nothing.",
    "UserErrorCode.VALIDATION_ERROR": "An input value is malformed or out of range (see `field`).",
    "UserErrorCode.INSUFFICIENT_BALANCE": "The amount exceeds the available balance.",
    "UserErrorCode.PAYOUT_ACCOUNT_REQUIRED": "Complete verification (a payout account) first.",
    "UserErrorCode.PAYOUT_ACCOUNT_NOT_VERIFIED": "The payout account cannot receive payouts yet.",
    "UserErrorCode.NO_DEFAULT_BANK_ACCOUNT": "No default bank account to pay out to.",
    "UserErrorCode.DUPLICATE": "The same thing already exists (for example a plan code).",
    "UserErrorCode.DOCUMENT_URL_REJECTED": "The document URL is not allowed or not fetchable.",
    "UserErrorCode.IDEMPOTENCY_KEY_MISMATCH": "The idempotency key was used with other input.",
    "UserErrorCode.IDEMPOTENCY_IN_PROGRESS": "A request with this key is still running; retry.",
    "UserErrorCode.PROVIDER_ERROR": "The payout provider refused the request.",
    "UserErrorCode.PROVIDER_NOT_CONFIGURED": "No payout provider serves this mode.",
    "UserErrorCode.NOT_FOUND": "No such object in this organization and mode.",
    "UserErrorCode.INVALID_TRANSITION": "The object's status does not allow this change.",
    "UserErrorCode.PLAN_ALREADY_IN_GROUP": "The plan is already in another group.",
    "UserErrorCode.CURRENCY_MISMATCH": "The plan's currencies differ from the group's.",
    "UserErrorCode.INVALID_PLAN_ORDER": "The order must name every plan of the group once.",
    "UserErrorCode.TEST_MODE_ONLY": "Only a test key may call this.",
    "UserErrorCode.PROVIDER_UNAVAILABLE": "The payout provider cannot be reached now; retry later.",
    "UserErrorCode.URL_REJECTED": "The URL is refused by the outbound address guard.",
}

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def describe_schema(schema: GraphQLSchema) -> None:
    """Fill in every missing description (see the module doc)."""
    mutations = schema.mutation_type.fields if schema.mutation_type else {}
    for name, named in schema.type_map.items():
        if name.startswith("__"):
            continue
        if not named.description:
            named.description = TEXTS.get(name) or _type_rule(named, mutations)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in named.fields.items():
                key = f"{name}.{field_name}"
                if not field.description:
                    field.description = TEXTS.get(key) or _field_rule(named, field_name)
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        arg.description = TEXTS.get(f"{key}.{arg_name}") or _arg_rule(
                            field_name, arg_name
                        )
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if not value.description:
                    value.description = TEXTS.get(f"{name}.{value_name}")


def _type_rule(named: GraphQLNamedType, mutations: dict[str, object]) -> str | None:
    name = named.name
    for suffix, text in (
        ("Connection", "A page of {} items, with where it sits in the list."),
        ("Edge", "One {} in a page, with its cursor."),
    ):
        if name.endswith(suffix):
            return text.format(_words(name.removesuffix(suffix)))
    for suffix, text in (("Input", "Input of `{}`."), ("Payload", "Result of `{}`.")):
        mutation = name.removesuffix(suffix)
        mutation = mutation[:1].lower() + mutation[1:]
        if name.endswith(suffix) and mutation in mutations:
            return text.format(mutation)
    return None


def _field_rule(owner: GraphQLNamedType, field_name: str) -> str | None:
    if owner.name.endswith("Connection"):
        return {"edges": "The items of this page.", "pageInfo": "Where this page sits."}.get(
            field_name
        )
    if owner.name.endswith("Edge"):
        return {
            "cursor": "Opaque position of this item: pass it as `after` for what follows.",
            "node": "The item.",
        }.get(field_name)
    return _COMMON_FIELDS.get(field_name)


def _arg_rule(field_name: str, arg_name: str) -> str | None:
    if arg_name == "input":
        return f"What `{field_name}` needs."
    return _PAGINATION_ARGS.get(arg_name)


def _words(type_name: str) -> str:
    return _CAMEL.sub(" ", type_name).lower()


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Schema members still without a description (for tests)."""
    missing: list[str] = []
    for name, named in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        if not named.description:
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in named.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}.{a}"
                    for a, arg in getattr(field, "args", {}).items()
                    if not arg.description
                ]
        elif isinstance(named, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in named.values.items() if not value.description]
    return missing


def unknown_texts(schema: GraphQLSchema) -> list[str]:
    """Names in ``TEXTS`` that no longer exist in the schema (for tests)."""
    unknown = []
    for key in TEXTS:
        type_name, *rest = key.split(".")
        named = schema.type_map.get(type_name)
        ok = named is not None
        if ok and rest:
            if isinstance(named, GraphQLEnumType):
                ok = len(rest) == 1 and rest[0] in named.values
            else:
                fields = getattr(named, "fields", {})
                ok = rest[0] in fields and (
                    len(rest) == 1 or rest[1] in getattr(fields[rest[0]], "args", {})
                )
        if not ok:
            unknown.append(key)
    return unknown
