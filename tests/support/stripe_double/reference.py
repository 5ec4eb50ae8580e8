"""The parameters each modelled endpoint accepts, as Stripe's API reference documents them.

Written from the API reference (docs.stripe.com/api: Accounts, Persons, Files, External
accounts, Transfers, Transfer reversals, Payouts, Balance), never from our adapter: the double
exists to catch the adapter's mistakes. Where the reference documents a large nested structure
we do not model (``settings``, ``business_profile[annual_revenue]``, capabilities other than
``transfers``...), the documented names are still listed so that a misspelled one is refused.
"""

from __future__ import annotations

from tests.support.stripe_double.params import (
    Bool,
    Enum,
    Hash,
    Int,
    ListOf,
    Metadata,
    Range,
    Spec,
    Str,
    StrOrHash,
)

EXPAND = ListOf(Str())


class Opaque(Spec):
    """A documented parameter whose inner structure the double does not model."""

    def check(self, value: object, path: tuple[str, ...]) -> object:
        return value


def _address() -> Hash:
    return Hash(
        city=Str(),
        country=Str(),
        line1=Str(),
        line2=Str(),
        postal_code=Str(),
        state=Str(),
    )


def _dob() -> Hash:
    return Hash(day=Int(), month=Int(), year=Int())


def _document() -> Hash:
    return Hash(back=Str(), front=Str())


def _verification() -> Hash:
    return Hash(additional_document=_document(), document=_document())


def _individual() -> Hash:
    return Hash(
        address=_address(),
        address_kana=Opaque(),
        address_kanji=Opaque(),
        dob=_dob(),
        email=Str(),
        first_name=Str(100),
        first_name_kana=Str(),
        first_name_kanji=Str(),
        full_name_aliases=ListOf(Str()),
        gender=Str(),
        id_number=Str(),
        id_number_secondary=Str(),
        last_name=Str(100),
        last_name_kana=Str(),
        last_name_kanji=Str(),
        maiden_name=Str(),
        metadata=Metadata(),
        phone=Str(),
        political_exposure=Enum("existing", "none"),
        registered_address=_address(),
        relationship=Hash(
            director=Bool(),
            executive=Bool(),
            owner=Bool(),
            percent_ownership=Str(),
            title=Str(),
        ),
        ssn_last_4=Str(4),
        verification=_verification(),
    )


def _company() -> Hash:
    return Hash(
        address=_address(),
        address_kana=Opaque(),
        address_kanji=Opaque(),
        directors_provided=Bool(),
        directorship_declaration=Opaque(),
        executives_provided=Bool(),
        export_license_id=Str(),
        export_purpose_code=Str(),
        name=Str(100),
        name_kana=Str(),
        name_kanji=Str(),
        owners_provided=Bool(),
        ownership_declaration=Hash(date=Int(), ip=Str(), user_agent=Str()),
        ownership_exemption_reason=Str(),
        phone=Str(),
        registration_date=Opaque(),
        registration_number=Str(),
        representative_declaration=Opaque(),
        structure=Str(),
        tax_id=Str(),
        tax_id_registrar=Str(),
        vat_id=Str(),
        verification=Hash(document=_document()),
    )


def _bank_account_hash(*, object_required: bool) -> Hash:
    # The reference's bank account hash on creation; ``account_type`` exists only on update.
    return Hash(
        required=("object", "country", "currency", "account_number") if object_required else (),
        object=Enum("bank_account"),
        account_holder_name=Str(),
        account_holder_type=Enum("company", "individual"),
        account_number=Str(),
        country=Str(),
        currency=Str(),
        routing_number=Str(),
    )


def _tos() -> Hash:
    return Hash(date=Int(), ip=Str(), service_agreement=Str(), user_agent=Str())


# The capabilities the reference lists are many; the double models ``transfers`` and accepts
# the documented ``card_payments`` shape; any other name is refused as unknown.
_CAPABILITY = Hash(requested=Bool())
_CAPABILITIES = Hash(card_payments=_CAPABILITY, transfers=_CAPABILITY)

_BUSINESS_PROFILE = Hash(
    annual_revenue=Opaque(),
    estimated_worker_count=Int(),
    mcc=Str(),
    minority_owned_business_designation=Opaque(),
    monthly_estimated_revenue=Opaque(),
    name=Str(),
    product_description=Str(),
    support_address=_address(),
    support_email=Str(),
    support_phone=Str(),
    support_url=Str(),
    url=Str(),
)

ACCOUNT_CREATE = Hash(
    account_token=Str(),
    business_profile=_BUSINESS_PROFILE,
    business_type=Enum("company", "government_entity", "individual", "non_profit"),
    capabilities=_CAPABILITIES,
    company=_company(),
    controller=Hash(
        fees=Hash(payer=Enum("account", "application")),
        losses=Hash(payments=Enum("application", "stripe")),
        requirement_collection=Enum("application", "stripe"),
        stripe_dashboard=Hash(type=Enum("express", "full", "none")),
    ),
    country=Str(),
    default_currency=Str(),
    documents=Opaque(),
    email=Str(),
    expand=EXPAND,
    external_account=StrOrHash(_bank_account_hash(object_required=True)),
    groups=Opaque(),
    individual=_individual(),
    metadata=Metadata(),
    settings=Opaque(),
    tos_acceptance=_tos(),
    type=Enum("custom", "express", "standard"),
)

ACCOUNT_UPDATE = Hash(
    account_token=Str(),
    business_profile=_BUSINESS_PROFILE,
    business_type=Enum("company", "government_entity", "individual", "non_profit"),
    capabilities=_CAPABILITIES,
    company=_company(),
    default_currency=Str(),
    documents=Opaque(),
    email=Str(),
    expand=EXPAND,
    external_account=Str(),
    groups=Opaque(),
    individual=_individual(),
    metadata=Metadata(),
    settings=Opaque(),
    tos_acceptance=_tos(),
)

RETRIEVE = Hash(expand=EXPAND)


def _person_fields() -> dict[str, Spec]:
    return {
        "additional_tos_acceptances": Opaque(),
        "address": _address(),
        "address_kana": Opaque(),
        "address_kanji": Opaque(),
        "dob": _dob(),
        "documents": Opaque(),
        "email": Str(),
        "expand": EXPAND,
        "first_name": Str(100),
        "first_name_kana": Str(),
        "first_name_kanji": Str(),
        "full_name_aliases": ListOf(Str()),
        "gender": Str(),
        "id_number": Str(),
        "id_number_secondary": Str(),
        "last_name": Str(100),
        "last_name_kana": Str(),
        "last_name_kanji": Str(),
        "maiden_name": Str(),
        "metadata": Metadata(),
        "nationality": Str(),
        "person_token": Str(),
        "phone": Str(),
        "political_exposure": Enum("existing", "none"),
        "registered_address": _address(),
        "relationship": Hash(
            authorizer=Bool(),
            director=Bool(),
            executive=Bool(),
            legal_guardian=Bool(),
            owner=Bool(),
            percent_ownership=Str(),
            representative=Bool(),
            title=Str(),
        ),
        "ssn_last_4": Str(4),
        "us_cfpb_data": Opaque(),
        "verification": _verification(),
    }


PERSON_CREATE = Hash(_person_fields())
PERSON_UPDATE = Hash(_person_fields())

FILE_PURPOSES = (
    "account_requirement",
    "additional_verification",
    "business_icon",
    "business_logo",
    "customer_signature",
    "dispute_evidence",
    "identity_document",
    "issuing_regulatory_reporting",
    "pci_document",
    "tax_document_user_upload",
    "terminal_reader_splashscreen",
)
FILE_CREATE = Hash(
    required=("file", "purpose"),
    expand=EXPAND,
    file=Opaque(),  # the multipart file part, checked by the endpoint
    file_link_data=Hash(create=Bool(), expires_at=Int(), metadata=Metadata()),
    purpose=Enum(*FILE_PURPOSES),
)

EXTERNAL_ACCOUNT_CREATE = Hash(
    required=("external_account",),
    default_for_currency=Bool(),
    expand=EXPAND,
    external_account=StrOrHash(_bank_account_hash(object_required=True)),
    metadata=Metadata(),
)
EXTERNAL_ACCOUNT_UPDATE = Hash(
    account_holder_name=Str(),
    account_holder_type=Enum("", "company", "individual"),
    account_type=Enum("checking", "futsu", "savings", "toza"),
    address_city=Str(),
    address_country=Str(),
    address_line1=Str(),
    address_line2=Str(),
    address_state=Str(),
    address_zip=Str(),
    default_for_currency=Bool(),
    documents=Opaque(),
    exp_month=Str(),
    exp_year=Str(),
    expand=EXPAND,
    metadata=Metadata(),
    name=Str(),
)

LIST: dict[str, Spec] = {
    "ending_before": Str(),
    "expand": EXPAND,
    "limit": Int(),
    "starting_after": Str(),
}
EXTERNAL_ACCOUNT_LIST = Hash(LIST, object=Enum("bank_account", "card"))
PERSON_LIST = Hash(LIST, relationship=Opaque())

TRANSFER_CREATE = Hash(
    required=("currency", "destination"),
    amount=Int(),
    currency=Str(),
    description=Str(),
    destination=Str(),
    expand=EXPAND,
    metadata=Metadata(),
    source_transaction=Str(),
    source_type=Enum("bank_account", "card", "fpx"),
    transfer_group=Str(),
)
TRANSFER_UPDATE = Hash(description=Str(), expand=EXPAND, metadata=Metadata())
TRANSFER_LIST = Hash(LIST, created=Range(), destination=Str(), transfer_group=Str())
REVERSAL_CREATE = Hash(
    amount=Int(),
    description=Str(),
    expand=EXPAND,
    metadata=Metadata(),
    refund_application_fee=Bool(),
)

PAYOUT_CREATE = Hash(
    required=("amount", "currency"),
    amount=Int(),
    currency=Str(),
    description=Str(),
    destination=Str(),
    expand=EXPAND,
    metadata=Metadata(),
    method=Enum("instant", "standard"),
    payout_method=Str(),
    source_type=Enum("bank_account", "card", "fpx"),
    statement_descriptor=Str(22),
)
PAYOUT_UPDATE = Hash(expand=EXPAND, metadata=Metadata())
PAYOUT_LIST = Hash(
    LIST,
    arrival_date=Range(),
    created=Range(),
    destination=Str(),
    status=Str(),
)
PAYOUT_CANCEL = Hash(expand=EXPAND)
BALANCE_RETRIEVE = Hash(expand=EXPAND)
